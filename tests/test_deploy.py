"""The systemd units in deploy/systemd: ``systemd-analyze verify`` accepts each of them,
and the command each runs starts, answers and stops the way systemd drives it (the
environment file, the instance name, SIGTERM within TimeoutStopSec). No systemd runs
here as PID 1, so the units are not started through systemctl."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
VENV = Path(sys.executable).parent.parent
INSTANCES = {
    "reclaim-web@.service": ["api", "matcher", "portal", "ui"],
    "reclaim-matcher@.service": ["8101"],
    "reclaim-worker@.service": ["fetch", "hash", "match", "capture", "send", "recheck"],
}


def _installed(tmp_path: Path) -> list[Path]:
    """The units as an installation here would have them (this checkout's venv in place
    of /opt/reclaim/.venv), templates under each instance name."""
    folder = tmp_path / "units"
    folder.mkdir()
    out = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace("/opt/reclaim/.venv", str(VENV))
        for name in [unit.name.replace("@.", f"@{i}.") for i in INSTANCES.get(unit.name, [])] or [
            unit.name
        ]:
            (folder / name).write_text(text)
            out.append(folder / name)
    return out


def _service(unit: Path) -> dict[str, list[str]]:
    """The [Service] section's settings (a key may repeat, as EnvironmentFile does)."""
    section, out = "", {}
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: scripts/setup installs systemd"
    units = _installed(tmp_path)
    assert {u.name for u in units} >= {
        "reclaim-web@portal.service",
        "reclaim-matcher@8101.service",
        "reclaim-worker@fetch.service",
        "reclaim-migrate.service",
        "reclaim-backup.service",
        "reclaim-backup.timer",
    }
    done = subprocess.run(
        [analyze, "verify", *map(str, units)],
        capture_output=True,
        text=True,
        cwd=tmp_path / "units",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # not even a warning


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(tmp_path: Path) -> dict[str, str]:
    """What systemd would pass: the example environment file (data in a temporary
    folder), PATH as systemd sets it, nothing inherited from this process."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    for line in (ROOT / "deploy" / "reclaim.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    env["RECLAIM_DATA_DIR"] = str(tmp_path / "var-lib-reclaim")
    return env


def _command(unit: Path, instance: str, tmp_path: Path) -> list[str]:
    (command,) = _service(unit)["ExecStart"]
    command = command.replace("%i", instance).replace("/opt/reclaim/.venv", str(VENV))
    command = command.replace("/var/backups/reclaim", str(tmp_path / "backups"))
    return command.split()


CLEAN = (0, -signal.SIGTERM)
"""Exits systemd counts as a clean stop after SIGTERM (uvicorn shuts down gracefully and
then re-raises the signal)."""


def _stop(process: subprocess.Popen[str], unit: Path) -> None:
    """SIGTERM, as systemd sends it; it must be gone well within TimeoutStopSec."""
    (limit,) = _service(unit)["TimeoutStopSec"]
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(int(limit))
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{unit.name} did not stop within TimeoutStopSec={limit}")


@pytest.mark.one_pass  # SQLite, as the example environment file sets it up
def test_the_units_commands_run_as_systemd_runs_them(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    migrate = subprocess.run(
        _command(UNITS / "reclaim-migrate.service", "", tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.startswith("database at revision")

    for unit, instance, env_file in [
        (UNITS / "reclaim-web@.service", "portal", True),
        (UNITS / "reclaim-matcher@.service", str(_free_port()), False),
    ]:
        port = int(instance) if instance.isdigit() else _free_port()
        unit_env = {**env, **({"RECLAIM_SERVE_PORT": str(port)} if env_file else {})}
        process = subprocess.Popen(
            _command(unit, instance, tmp_path),
            env=unit_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, process.communicate()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{unit.name} never became ready"
                time.sleep(0.2)
        finally:
            _stop(process, unit)
        assert process.returncode in CLEAN, process.communicate()

    worker_unit = UNITS / "reclaim-worker@.service"
    worker = subprocess.Popen(
        _command(worker_unit, "fetch", tmp_path),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    assert worker.poll() is None, worker.communicate()
    _stop(worker, worker_unit)
    assert worker.returncode in CLEAN, worker.communicate()

    backup = subprocess.run(
        _command(UNITS / "reclaim-backup.service", "", tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert backup.returncode == 0, backup.stderr
    (made,) = (tmp_path / "backups").glob("reclaim-backup-*")
    assert (made / "manifest.json").is_file()


COMPOSE = ROOT / "deploy" / "compose"


def _compose() -> dict:
    import yaml

    loaded = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_compose_file_runs_real_commands_with_known_settings() -> None:
    """No Compose client or container engine here: the file's structure is checked, and
    every Reclaim command in it is parsed by the real CLI."""
    from reclaim.config import Settings, env_var
    from reclaim.jobs.queue import Queue
    from tests.cli import run

    compose = _compose()
    services = compose["services"]
    known = {env_var(name) for name in Settings.model_fields}
    ours = {name: s for name, s in services.items() if s.get("image") == "reclaim:latest"}
    assert {"migrate", "portal", "ui", "api", "matcher", "fetch", "capture", "send"} <= set(ours)
    served: set[str] = set()
    for name, service in ours.items():
        command = service["command"]
        parsed = run({}, *command, "--help")
        assert parsed.returncode == 0, (name, parsed.stderr)
        if command[0] == "worker":
            queues = [command[i + 1] for i, arg in enumerate(command) if arg == "--queue"]
            assert set(queues) <= {q.value for q in Queue}, name
            served.update(queues)
        settings = [k for k in service.get("environment", {}) if k.startswith("RECLAIM_")]
        assert set(settings) <= known, (name, set(settings) - known)
        if name != "migrate":
            needs = service["depends_on"]
            assert "migrate" in needs or "postgres" in needs, name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
        if command[0] == "serve":
            assert "/readyz" in " ".join(service["healthcheck"]["test"]), name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)  # the proxy in front is TLS's
    assert served == {q.value for q in Queue}  # every queue has workers
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    example = (COMPOSE / "reclaim.env.example").read_text().splitlines()
    keys = {line.split("=")[0] for line in example if line.strip() and not line.startswith("#")}
    assert keys <= known, keys - known
    containerfile = (COMPOSE / "Containerfile").read_text()
    assert "RUN scripts/setup" in containerfile  # the same installation CI runs
    assert "USER reclaim" in containerfile
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30
        ).returncode
        == 0
    ):  # where the client exists, it must accept the file too
        checked = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE / "compose.yaml"), "config", "--quiet"],
            env={"POSTGRES_PASSWORD": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr
