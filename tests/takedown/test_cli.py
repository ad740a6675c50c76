"""``reclaim takedown`` from draft to statistics, as a support worker would use it."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

from typer.testing import CliRunner

from reclaim.cli import app

from .conftest import SmtpServer, World, sight


def _env(world: World, smtp: SmtpServer) -> dict[str, str]:
    return {
        "RECLAIM_DATA_DIR": str(world.settings.data_dir),
        "RECLAIM_SMTP_HOST": "127.0.0.1",
        "RECLAIM_SMTP_PORT": str(smtp.port),
        "RECLAIM_SMTP_SECURITY": "none",
        "RECLAIM_MAIL_FROM": "notices@support.example",
    }


def test_a_takedown_through_the_command_line(
    database, world: World, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = _env(world, smtp_server)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result.stdout + result.stderr

    assert "desk@center.example" in run("org", "contact", "--email", "desk@center.example")
    assert "not an e-mail address" in run("org", "contact", "--email", "x\r\ny", code=1)
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    sight(database, world, page="/post/2", image="/img/2.jpg", photo="two.jpg")
    run("takedown", "draft", code=2)  # neither --case nor --sighting
    run("takedown", "draft", "1", "--case", world.case_number, code=2)  # one or the other
    drafted = run("takedown", "draft", world.case_number)
    notice_id = drafted.split("\t")[0]
    assert "abuse@forum.example" in drafted
    assert "nothing new" in run("takedown", "draft", "--case", world.case_number)
    (listed,) = [json.loads(line) for line in run("takedown", "list", "--json").splitlines()]
    assert (listed["state"], listed["channel"], listed["site"]) == (
        "drafted",
        "host_abuse",
        "forum.example",
    )
    shown = run("takedown", "show", notice_id)
    assert world.url("/img/2.jpg") in shown
    assert world.case_number not in shown
    run("takedown", "show", "999", code=2)
    assert "may not approve" in run(
        "takedown", "approve", notice_id, "--by", "park", "--role", "auditor", code=1
    )
    assert "1/1 approvals" in run(
        "takedown", "approve", notice_id, "--by", "kim", "--role", "reviewer"
    )
    assert "sent 1," in run("takedown", "send")
    assert len(smtp_server.mailbox.accepted) == 1
    sent = smtp_server.mailbox.accepted[0].original_content or b""
    original = next(line for line in sent.split(b"\r\n") if line.lower().startswith(b"message-id:"))
    answer = EmailMessage()
    answer["From"] = "abuse@forum.example"
    answer["To"] = "desk@center.example"
    answer["Subject"] = "Re: your report"
    answer["Message-ID"] = "<answer.1@forum.example>"
    answer["In-Reply-To"] = original.split(b":", 1)[1].strip().decode()
    answer.set_content("We removed the content.")
    eml = tmp_path / "answer.eml"
    eml.write_bytes(answer.as_bytes())
    assert f"reply\tnotice {notice_id}" in run("takedown", "import-reply", str(eml))
    assert "seen before" in run("takedown", "import-reply", str(eml))
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(b"")
    run("takedown", "import-reply", str(garbage), code=1)
    assert "\tacknowledged\t" in run("takedown", "list")
    assert "\tremoved\t" in run("takedown", "mark", notice_id, "removed")
    rows = [json.loads(line) for line in run("takedown", "stats", "--json").splitlines()]
    assert [(r["channel"], r["sent"], r["removed"], r["acknowledged"]) for r in rows] == [
        ("all", 1, 1, 1),
        ("host_abuse", 1, 1, 1),
    ]
    assert run("takedown", "stats", "--csv").startswith("domain,channel,sent,")
    assert "sent 0," in run("takedown", "send")
