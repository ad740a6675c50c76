"""``reclaim serve --role``: each process serves only its part (and always its health and
metrics), so API, matcher, portal and staff processes can be scaled apart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reclaim.config import Settings
from reclaim.web.app import Role, create_app

PATHS = {
    "/v1/match": Role.MATCHER,
    "/v1/banks/main/hashes": Role.API,
    "/": Role.PORTAL,
    "/staff/signin": Role.UI,
}


def _served(client: TestClient, path: str) -> bool:
    if path.startswith("/v1/"):  # the API answers 401 without a key, 404 when not served
        answer = client.post(path, json={}) if path == "/v1/match" else client.get(path)
        return answer.status_code != 404
    return client.get(path).status_code == 200


@pytest.mark.parametrize(
    "roles",
    [{Role.API}, {Role.MATCHER}, {Role.PORTAL}, {Role.UI}, {Role.PORTAL, Role.UI}, set(Role)],
    ids=lambda roles: "+".join(sorted(roles)),
)
def test_each_role_serves_its_part(roles: set[Role], tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"), frozenset(roles))
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        for path, role in PATHS.items():
            wanted = role in roles or (role is Role.MATCHER and Role.API in roles)
            assert _served(client, path) is wanted, (path, roles)
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert (client.get("/docs").status_code == 200) is (Role.API in roles)
        static = client.get("/static/portal/portal.css")
        assert (static.status_code == 200) is bool(roles & {Role.PORTAL, Role.UI})


def test_a_process_needs_a_role(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one role"):
        create_app(Settings(data_dir=tmp_path), frozenset())


def test_serve_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reclaim.cli", "serve", "--role", "everything"],
        env={"RECLAIM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown role" in result.stderr
    assert "api, matcher, portal, ui" in result.stderr


def test_serve_role_all_serves_everything(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "reclaim.cli", "serve", "--role", "all"),
            *("--no-worker", "--port", str(port)),
        ],
        env={**os.environ, "RECLAIM_DATA_DIR": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for path in ("/docs", "/", "/staff/signin"):
            assert httpx.get(f"http://127.0.0.1:{port}{path}").status_code == 200, path
    finally:
        server.terminate()
        server.wait(30)
