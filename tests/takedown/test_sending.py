"""Sending when things go wrong: refusals, busy servers, timeouts, connections dropped
before and after the message's end, STARTTLS and login, and a sender killed mid-send --
whose notice ends uncertain, is neither lost nor resent without a person."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from reclaim.cases.roles import Actor, NotAllowed, Role
from reclaim.takedown import outbox, service
from reclaim.takedown.models import MailState, Notice, NoticeState, OutboxMessage
from reclaim.takedown.smtp import NotConfigured, SendFailed, SendUncertain, SmtpConfig, send
from reclaim.takedown.workflow import BadTransition

from .conftest import Mailbox, SmtpServer, World, free_port, resolve, settings_for, sight

REVIEWER = Actor("kim.reviewer", Role.REVIEWER)
MESSAGE = b"From: a@b.example\r\nTo: c@d.example\r\nSubject: t\r\n\r\n.leading dot\r\nbody\r\n"


def _approved(database, world: World, settings) -> int:  # type: ignore[no-untyped-def]
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        return notice.id


def _mail(database, notice_id: int) -> OutboxMessage:  # type: ignore[no-untyped-def]
    with database.session() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.notice_id == notice_id))
        assert row is not None
        session.expunge(row)
        return row


def _notice_state(database, notice_id: int) -> NoticeState:  # type: ignore[no-untyped-def]
    with database.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        return notice.state


class FaultyServer:
    """A scripted SMTP server: answers until ``fail_at`` and then misbehaves."""

    def __init__(self, fail_at: str) -> None:
        self.fail_at = fail_at
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                self._talk(conn)
            finally:
                conn.shutdown(socket.SHUT_RDWR) if self.fail_at == "mid-data" else None
                conn.close()

    def _talk(self, conn: socket.socket) -> None:
        if self.fail_at == "greeting":
            time.sleep(5)
            return
        reader = conn.makefile("rb", buffering=0)
        conn.sendall(b"220 faulty ESMTP\r\n")
        for line in reader:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 faulty\r\n")
            elif verb == b"MAIL":
                conn.sendall(
                    b"451 4.3.2 try later\r\n" if self.fail_at == "busy" else b"250 ok\r\n"
                )
            elif verb == b"RCPT":
                conn.sendall(
                    b"550 5.1.1 no such user\r\n" if self.fail_at == "refuse" else b"250 ok\r\n"
                )
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                self._data(conn, reader)
                return
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def _data(self, conn: socket.socket, reader) -> None:  # type: ignore[no-untyped-def]
        if self.fail_at == "mid-data":
            self.received += reader.readline()
            return  # hang up before the end of the message
        for line in reader:
            self.received += line
            if line == b".\r\n":
                break
        if self.fail_at == "after-dot":
            return  # hang up without an answer: the message may have been taken
        conn.sendall(
            b"554 5.7.1 rejected as spam\r\n" if self.fail_at == "reject" else b"250 queued\r\n"
        )

    def close(self) -> None:
        self.sock.close()


def _config(port: int, **extra: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": None,
        "password": None,
        "ca_file": None,
        "timeout": 2.0,
    }
    values.update(extra)
    return SmtpConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fail_at", "temporary"),
    [("busy", True), ("refuse", False), ("reject", False), ("mid-data", True), ("greeting", True)],
)
def test_each_failure_before_acceptance_says_whether_to_retry(
    fail_at: str, temporary: bool
) -> None:
    server = FaultyServer(fail_at)
    # Hung up on mid-DATA, a message larger than the socket buffers is still being written.
    message = MESSAGE + b"x" * 16_000_000 if fail_at == "mid-data" else MESSAGE
    try:
        with pytest.raises(SendFailed) as caught:
            send(
                _config(server.port), sender="n@s.example", recipient="a@b.example", message=message
            )
        assert caught.value.temporary is temporary
    finally:
        server.close()


def test_a_connection_lost_after_the_whole_message_is_uncertain() -> None:
    server = FaultyServer("after-dot")
    try:
        with pytest.raises(SendUncertain):
            send(
                _config(server.port), sender="n@s.example", recipient="a@b.example", message=MESSAGE
            )
        assert b"\r\n..leading dot\r\n" in b"\r\n" + server.received  # dot-stuffed
        assert server.received.endswith(b"\r\n.\r\n")
    finally:
        server.close()


def test_nobody_listening_is_a_temporary_failure_and_no_server_is_named_clearly() -> None:
    with pytest.raises(SendFailed) as caught:
        send(_config(free_port()), sender="n@s.example", recipient="a@b.example", message=MESSAGE)
    assert caught.value.temporary
    with pytest.raises(NotConfigured):
        SmtpConfig.from_settings(settings_for(Path("/nonexistent")))


def test_the_outbox_retries_with_backoff_then_gives_up(database, world: World, tmp_path) -> None:
    server = FaultyServer("busy")
    settings = settings_for(
        tmp_path, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
        smtp_timeout=2.0, takedown_send_attempts=3, takedown_retry_seconds=60.0,
    )  # fmt: skip
    try:
        notice_id = _approved(database, world, settings)
        assert outbox.send_due(database, settings).retried == 1
        first = _mail(database, notice_id)
        assert first.state is MailState.QUEUED
        assert first.attempts == 1
        assert "451" in (first.last_error or "")
        assert outbox.send_due(database, settings).retried == 0  # not due yet
        later = datetime.now(UTC) + timedelta(minutes=2)
        assert outbox.send_due(database, settings, now=later).retried == 1
        second = _mail(database, notice_id)
        assert second.next_attempt == later + timedelta(seconds=120)  # the wait doubled
        tally = outbox.send_due(database, settings, now=later + timedelta(hours=1))
        assert tally.failed == 1
        assert _mail(database, notice_id).state is MailState.FAILED
        assert _notice_state(database, notice_id) is NoticeState.APPROVED
    finally:
        server.close()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def _authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"desk",
        b"s3cret",
    )
    return AuthResult(success=good, handled=False)  # handled=False: the server answers 535


def test_starttls_and_login_are_used_and_a_plain_server_is_refused(
    tls_files: tuple[Path, Path],
) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=_authenticator, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        from pydantic import SecretStr

        good = _config(
            port, security="starttls", username="desk", password=SecretStr("s3cret"), ca_file=cert
        )
        assert send(
            good, sender="n@s.example", recipient="a@b.example", message=MESSAGE
        ).startswith("250")
        assert len(mailbox.accepted) == 1
        wrong = _config(
            port, security="starttls", username="desk", password=SecretStr("nope"), ca_file=cert
        )
        with pytest.raises(SendFailed, match="login"):
            send(wrong, sender="n@s.example", recipient="a@b.example", message=MESSAGE)
        untrusted = _config(
            port, security="starttls", username="desk", password=SecretStr("s3cret")
        )
        with pytest.raises(SendFailed, match=r"(?i)certificate"):
            send(untrusted, sender="n@s.example", recipient="a@b.example", message=MESSAGE)
        assert len(mailbox.accepted) == 1
    finally:
        controller.stop()
    plain = FaultyServer("never")  # offers no STARTTLS
    try:
        with pytest.raises(SendFailed, match="STARTTLS"):
            send(
                _config(plain.port, security="starttls"),
                sender="n@s.example",
                recipient="a@b.example",
                message=MESSAGE,
            )
        assert plain.received == b""  # nothing was sent in the clear
    finally:
        plain.close()


SENDER = """
import sys
from reclaim.config import Settings
from reclaim.store import open_database
from reclaim.takedown import outbox
settings = Settings(data_dir=sys.argv[1], smtp_host="127.0.0.1", smtp_port=int(sys.argv[2]),
                    smtp_security="none", mail_from="notices@support.example")
outbox.send_due(open_database(settings), settings)
"""


def _wait(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_a_sender_killed_mid_send_leaves_the_notice_uncertain_for_a_person(
    database, world: World, smtp_server: SmtpServer, tmp_path
) -> None:
    settings = settings_for(
        tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_security="none",
        mail_from="notices@support.example",
    )  # fmt: skip
    notice_id = _approved(database, world, settings)
    mailbox = smtp_server.mailbox
    mailbox.stall = threading.Event()  # the server takes the message but holds its answer
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(settings.data_dir), str(smtp_server.port)]
    )
    try:
        _wait(lambda: len(mailbox.started) == 1 or sender.poll() is not None)
        assert sender.poll() is None, "the sender ended by itself"
        assert _mail(database, notice_id).state is MailState.SENDING
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=30)
    finally:
        if sender.poll() is None:
            sender.kill()
    mailbox.stall.set()
    # The whole message reached the server before the sender died: from the sender's side
    # nobody can tell whether it was accepted.
    assert mailbox.started[0].original_content
    tally = outbox.send_due(database, settings)  # a later run, as the worker would
    assert (tally.sent, tally.uncertain) == (0, 1)
    row = _mail(database, notice_id)
    assert row.state is MailState.UNCERTAIN
    assert "may or may not" in (row.last_error or "")
    assert outbox.send_due(database, settings).sent == 0
    assert len(mailbox.started) == 1  # not resent without a person
    assert _notice_state(database, notice_id) is NoticeState.APPROVED
    with database.session() as session:
        row = session.get(OutboxMessage, row.id)
        assert row is not None
        with pytest.raises(NotAllowed):
            outbox.resend(session, row=row, actor=Actor("a", Role.AUDITOR))
        outbox.resend(session, row=row, actor=REVIEWER)
        with pytest.raises(BadTransition):
            outbox.confirm_sent(session, row=row, actor=REVIEWER, settings=settings)
    assert outbox.send_due(database, settings).sent == 1
    assert len(mailbox.started) == 2  # the person chose to send it again ...
    assert mailbox.started[0].original_content == mailbox.accepted[-1].original_content  # as it was
    assert _notice_state(database, notice_id) is NoticeState.SENT


def test_a_person_can_confirm_an_uncertain_send_instead(database, world: World, tmp_path) -> None:
    server = FaultyServer("after-dot")
    settings = settings_for(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security="none",
        smtp_timeout=2.0,
    )
    try:
        notice_id = _approved(database, world, settings)
        assert outbox.send_due(database, settings).uncertain == 1
        with database.session() as session:
            row = session.scalar(select(OutboxMessage).where(OutboxMessage.notice_id == notice_id))
            assert row is not None
            assert row.state is MailState.UNCERTAIN
            outbox.confirm_sent(session, row=row, actor=REVIEWER, settings=settings)
        assert _mail(database, notice_id).state is MailState.SENT
        assert _notice_state(database, notice_id) is NoticeState.SENT
        assert outbox.send_due(database, settings).sent == 0
    finally:
        server.close()
