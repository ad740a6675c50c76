"""Handing one message to the SMTP server, and knowing what became of it.

The send is done step by step (``EHLO``, ``STARTTLS``, ``AUTH``, ``MAIL``, ``RCPT``,
``DATA``) so that a failure says which it was. Until the message's final dot is written,
a failure means the server did not take it and a retry is safe (:class:`SendFailed`, with
``temporary`` for 4xx replies and broken connections, not for 5xx). Once the dot is out,
the server may already have accepted the message when the connection drops or the reply
never comes: that is :class:`SendUncertain`, and nobody but a person may decide to send
again.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from reclaim.config import Settings


class NotConfigured(Exception):
    """No SMTP server is configured (``RECLAIM_SMTP_HOST``)."""


class SendFailed(Exception):
    """The server did not take the message."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class SendUncertain(Exception):
    """The message was handed over in full but the server's answer never came."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    username: str | None
    password: SecretStr | None
    ca_file: Path | None
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        if not settings.smtp_host:
            raise NotConfigured("no SMTP server is configured: set RECLAIM_SMTP_HOST")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            ca_file=settings.smtp_ca_file,
            timeout=settings.smtp_timeout,
        )

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def send(config: SmtpConfig, *, sender: str, recipient: str, message: bytes) -> str:
    """Send ``message`` (RFC 5322 bytes) to ``recipient``; the server's acceptance reply."""
    try:
        smtp = _connect(config)
    except (OSError, smtplib.SMTPException) as error:
        raise SendFailed(
            f"cannot reach {config.host}:{config.port}: {error}", temporary=True
        ) from None
    try:
        _hello(smtp, config)
        _expect(smtp.mail(sender), "MAIL FROM")
        _expect(smtp.rcpt(recipient), f"RCPT TO {recipient}")
        return _data(smtp, message)
    except smtplib.SMTPAuthenticationError as error:
        raise SendFailed(
            f"the server refused the login: {_text(error.smtp_error)}", temporary=True
        ) from None
    except smtplib.SMTPResponseException as error:
        raise SendFailed(
            f"{error.smtp_code} {_text(error.smtp_error)}", temporary=error.smtp_code < 500
        ) from None
    except OSError as error:  # smtplib's own errors too: SMTPException is an OSError
        raise SendFailed(
            f"the connection broke before the message was sent: {error}", temporary=True
        ) from None
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "tls":
        return smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=config.tls_context()
        )
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def _hello(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    smtp.ehlo()
    if config.security == "starttls":
        if not smtp.has_extn("starttls"):
            raise SendFailed(
                f"{config.host} offers no STARTTLS: refusing to send in the clear", temporary=True
            )
        smtp.starttls(context=config.tls_context())
        smtp.ehlo()
    if config.username:
        password = config.password.get_secret_value() if config.password else ""
        offered = (smtp.esmtp_features.get("auth") or "").upper().split()
        if "PLAIN" in offered:  # one attempt: a refused login is not tried again other ways
            smtp.user, smtp.password = config.username, password
            smtp.auth("PLAIN", smtp.auth_plain)
        else:
            smtp.login(config.username, password)


def _expect(reply: tuple[int, bytes], step: str) -> None:
    code, text = reply
    if not 200 <= code < 300:
        raise SendFailed(f"{step}: {code} {_text(text)}", temporary=code < 500)


def _data(smtp: smtplib.SMTP, message: bytes) -> str:
    code, text = smtp.docmd("DATA")
    if code != 354:
        raise SendFailed(f"DATA: {code} {_text(text)}", temporary=code < 500)
    body = re.sub(rb"\r\n|\n|\r", b"\r\n", message)
    body = re.sub(rb"(?m)^\.", b"..", body)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    try:
        smtp.send(body + b".\r\n")
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        # Part of the message may be out, but without the final dot it is not accepted.
        raise SendFailed(f"the connection broke during DATA: {error}", temporary=True) from None
    try:
        code, text = smtp.getreply()
    except OSError as error:  # a timeout, a dropped connection (SMTPServerDisconnected)
        raise SendUncertain(f"the message was sent in full but no answer came: {error}") from None
    if code != 250:
        raise SendFailed(f"the message was refused: {code} {_text(text)}", temporary=code < 500)
    return f"{code} {_text(text)}"


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return re.sub(r"\s+", " ", text).strip()[:500]
