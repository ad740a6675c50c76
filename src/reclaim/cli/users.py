"""``reclaim user``: staff accounts of the staff app (the first admin is made here)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.cases.roles import Role
from reclaim.cases.staff import Accounts, StaffUser, list_users, new_password, normalise_email
from reclaim.cases.staff_sessions import close_user_sessions
from reclaim.cli.app import JsonOption, app, fail, load_settings
from reclaim.cli.banks import OrgOption, org_session
from reclaim.cli.evidence import master_key
from reclaim.store.base import utcnow

user_app = typer.Typer(help="Staff accounts: add, list, disable, new two-factor set-up.",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(user_app, name="user")

RoleOption = Annotated[
    Role, typer.Option("--role", help="admin, case_worker, reviewer or auditor.")
]


@user_app.command("add")
def user_add(
    email: str,
    role: RoleOption,
    org: OrgOption = None,
    name: Annotated[str, typer.Option(help="How the app shows her name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the first password from stdin.")
    ] = False,
) -> None:
    """Make an account; prints a generated first password unless one is read from stdin.
    Two-factor sign-in is set up at her first sign-in (the master key must exist: it is
    made here if there is none)."""
    settings = load_settings()
    master = master_key(settings, create=True)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else new_password()
    with org_session(settings, org) as (session, organisation):
        user = Accounts(settings, master).add(
            session, org=organisation, email=email, role=role, password=password, name=name
        )
        sys.stdout.write(f"{user.email}\t{user.role.value}\t{organisation.slug}\n")
    if not password_stdin:
        sys.stdout.write(f"first password (shown once): {password}\n")


@user_app.command("list")
def user_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    settings = load_settings()
    with org_session(settings, org) as (session, organisation):
        for user in list_users(session, org=organisation):
            row = {
                "email": user.email,
                "name": user.name,
                "role": user.role.value,
                "two_factor": user.totp_enrolled,
                "disabled": user.disabled.isoformat() if user.disabled else None,
                "last_sign_in": user.last_sign_in.isoformat() if user.last_sign_in else None,
            }
            line = (
                json.dumps(row, ensure_ascii=False)
                if as_json
                else "\t".join(str(v if v is not None else "-") for v in row.values())
            )
            sys.stdout.write(line + "\n")


def _find(session: Session, organisation: Organisation, email: str) -> StaffUser:
    address = normalise_email(email)
    for user in list_users(session, org=organisation):
        if user.email == address:
            return user
    raise fail(f"no account {address} in this organisation", 2)


@user_app.command("disable")
def user_disable(email: str, org: OrgOption = None) -> None:
    """Disable an account and end its sessions (its records stay)."""
    settings = load_settings()
    with org_session(settings, org) as (session, organisation):
        user = _find(session, organisation, email)
        user.disabled = utcnow()
        close_user_sessions(session, user_id=user.id)


@user_app.command("reset-2fa")
def user_reset_2fa(email: str, org: OrgOption = None) -> None:
    """Forget her authenticator (a lost phone): she sets it up again at her next sign-in."""
    settings = load_settings()
    with org_session(settings, org) as (session, organisation):
        user = _find(session, organisation, email)
        Accounts(settings, master_key(settings)).reset_totp(session, user=user)
        close_user_sessions(session, user_id=user.id)
