"""``reclaim apikey``, ``reclaim dispute`` and ``reclaim serve``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.cli.app import app, fail, load_settings
from reclaim.cli.banks import OrgOption, actor, org_session

apikey_app = typer.Typer(help="API keys for platforms, scoped to banks.", no_args_is_help=True)
dispute_app = typer.Typer(help="Platforms' disputes of banked items.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(dispute_app, name="dispute")


@apikey_app.command("create")
def apikey_create(
    bank_names: Annotated[list[str], typer.Option("--bank", help="A bank the key may use.")],
    name: Annotated[str, typer.Option(help="Who the key is for.")] = "platform",
    org: OrgOption = None,
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    with org_session(load_settings(), org) as (session, organisation):
        chosen = [banks.get_bank(session, org=organisation, name=n) for n in bank_names]
        key, token = platforms.create_key(session, org=organisation, name=name, banks_=chosen)
        sys.stdout.write(f"{token}\n")
        sys.stderr.write(f"key id {key.key_id}: store the key now; Reclaim keeps only its hash\n")


@apikey_app.command("revoke")
def apikey_revoke(key_id: str, org: OrgOption = None) -> None:
    """Revoke a key at once."""
    with org_session(load_settings(), org) as (session, organisation):
        platforms.revoke_key(session, org=organisation, key_id=key_id)
        sys.stdout.write(f"revoked {key_id}\n")


@dispute_app.command("list")
def dispute_list(org: OrgOption = None) -> None:
    """The open disputes, oldest first."""
    with org_session(load_settings(), org) as (session, organisation):
        for dispute, item, bank in platforms.open_disputes(session, org=organisation):
            sys.stdout.write(
                f"{dispute.public_id}\t{bank.name}\t{item.public_id}\t{dispute.created:%Y-%m-%d}"
                f"\t{dispute.reason}\n"
            )


@dispute_app.command("resolve")
def dispute_resolve(
    dispute_id: str,
    uphold: Annotated[bool, typer.Option("--uphold/--reject", help="Decision.")],
    move_to: Annotated[
        str | None, typer.Option(help="Upheld: move the item to this negative bank.")
    ] = None,
    note: Annotated[str, typer.Option()] = "",
    org: OrgOption = None,
) -> None:
    """Uphold (withdraw the item, or move it to a negative bank) or reject a dispute."""
    with org_session(load_settings(), org) as (session, organisation):
        target = banks.get_bank(session, org=organisation, name=move_to) if move_to else None
        platforms.resolve_dispute(
            session,
            org=organisation,
            dispute_id=dispute_id,
            actor=actor(),
            uphold=uphold,
            move_to=target,
            note=note,
        )
        sys.stdout.write(f"{dispute_id} {'upheld' if uphold else 'rejected'}\n")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Default from RECLAIM_SERVE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default from RECLAIM_SERVE_PORT.")] = None,
    worker: Annotated[
        bool, typer.Option(help="Also run the task queue's worker in this process.")
    ] = True,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Try it all on this machine: a demo data folder, the demo forum on "
            "127.0.0.2 and the monitor watching it.",
        ),
    ] = False,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help="Serve only this (repeat for several): api, matcher, portal, ui; or all "
            "(the default).",
        ),
    ] = None,
) -> None:
    """Run Reclaim: the survivor portal (/), the staff app (/staff), the platform API (/v1,
    documented at /docs) -- or only the --role(s) given -- and, unless --no-worker, the
    background tasks (crawls, captures, notices) on threads of the same process. Prints
    the address to open."""
    import uvicorn

    from reclaim.jobs.queue import Jobs
    from reclaim.web.app import ALL_ROLES, Role, create_app

    try:
        named = [name for name in role or [] if name != "all"]
        roles = frozenset(Role(name) for name in named) if named else ALL_ROLES
    except ValueError:
        known = ", ".join([*(r.value for r in Role), "all"])
        raise fail(f"unknown role in {', '.join(role or [])} (known: {known})", 2) from None
    settings = load_settings()
    running = None
    if demo:
        from reclaim.demo.portal import NotADemoFolder, start

        try:
            running = start(settings, settings.data_dir / "demo-portal")
        except NotADemoFolder as error:
            raise fail(str(error), 2) from None
        settings = running.settings
    jobs = Jobs(settings) if worker else None
    if jobs is not None:
        jobs.start(settings.jobs_workers)
    address = f"http://{host or settings.serve_host}:{port or settings.serve_port}/"
    sys.stdout.write(f"Reclaim is running at {address} (Ctrl-C stops it)\n")
    if running is not None:
        sys.stdout.write(
            f"Demo: register a picture from {running.media} at {address}register; the demo "
            f"forum at {running.site.base_url}/ serves altered copies, and within a minute "
            "or two your case page shows what the monitor found.\n"
        )
    sys.stdout.flush()
    try:
        uvicorn.run(
            create_app(settings, roles),
            host=host or settings.serve_host,
            port=port or settings.serve_port,
            log_level="warning",
            access_log=False,  # nothing that identifies a survivor goes to the logs
        )
    finally:
        if jobs is not None:
            jobs.close()
        if running is not None:
            running.close()
