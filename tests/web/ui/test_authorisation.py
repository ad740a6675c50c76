"""Every staff route x every role x own and foreign objects: generated from the route
table, so a new route without a rule, or with the wrong one, fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.routing import BaseRoute, Route

from reclaim.cases.roles import Role
from reclaim.web.ui.guard import PREFIX, RULES, Rule
from tests.web.ui.conftest import ROLES, Org, StaffWorld

PARAM = re.compile(r"\{(\w+)_id:int\}")
PROTECTED = sorted(key for key, rule in RULES.items() if rule.roles is not None)


def _url(path: str, org: Org) -> str:
    return PARAM.sub(lambda m: str(org.objects[m.group(1)]), path)


def _send(world: StaffWorld, method: str, url: str, csrf: str | None):  # type: ignore[no-untyped-def]
    if method == "GET":
        return world.client.get(url, follow_redirects=False)
    data = {"csrf": csrf} if csrf is not None else {"decision": "confirm"}
    return world.client.post(url, data=data, follow_redirects=False)


def _routes(routes: list[BaseRoute]) -> Iterator[Route]:
    """Every route of the app, into included routers (``original_router``) and mounts."""
    for route in routes:
        if isinstance(route, Route):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "app", None)
        if inner is not None and hasattr(inner, "routes"):
            yield from _routes(inner.routes)


def test_every_staff_route_has_a_rule(staff_world: StaffWorld) -> None:
    routes = {
        (method, route.path)
        for route in _routes(staff_world.client.app.routes)  # type: ignore[attr-defined]
        if route.path.startswith(PREFIX)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert routes == set(RULES)
    kinds = {m.group(1) for path in (p for _, p in RULES) for m in PARAM.finditer(path)}
    assert kinds <= set(staff_world.north.objects), "a path names an object no test makes"


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=lambda v: str(v))
def test_route_admits_exactly_its_roles(staff_world: StaffWorld, method: str, path: str) -> None:
    rule: Rule = RULES[(method, path)]
    assert rule.roles is not None
    world = staff_world
    own, foreign = _url(path, world.north), _url(path, world.south)
    names_object = bool(PARAM.search(path))

    world.client.cookies.clear()
    signed_out = _send(world, method, own, None)
    if method == "GET":
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == PREFIX + "/signin"
    else:
        assert signed_out.status_code == 403

    for role in ROLES:
        csrf = world.sign_in_as(world.north, role)
        if method == "POST":  # no token, a wrong token: refused before anything happens
            assert _send(world, method, own, None).status_code == 403, role
            assert _send(world, method, own, "x" * 43).status_code == 403, role
        if names_object:
            answer = _send(world, method, foreign, csrf)
            expected = 404 if role in rule.roles else 403
            assert answer.status_code == expected, (role, foreign, answer.text[:300])
        answer = _send(world, method, own, csrf)
        if role in rule.roles:
            seen = (role, own, answer.status_code, answer.text[:300])
            assert answer.status_code not in (401, 403, 404, 405), seen
            assert answer.status_code < 500, seen
        else:
            assert answer.status_code == 403, (role, own, answer.status_code)


def test_an_auditor_never_reveals(staff_world: StaffWorld) -> None:
    csrf = staff_world.sign_in_as(staff_world.north, Role.AUDITOR)
    for kind in ("sightings", "evidence"):
        ident = staff_world.north.objects[kind.rstrip("s")]
        answer = staff_world.client.post(f"/staff/{kind}/{ident}/reveal", data={"csrf": csrf})
        assert answer.status_code == 403
        assert "data:image" not in answer.text
