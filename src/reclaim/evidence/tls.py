"""The certificate an HTTPS site presented, and whether it deserved trust.

Chromium's view of TLS (Playwright's ``security_details``) names the protocol, issuer and
subject but neither the certificate itself nor whether it was trusted. An evidence capture
keeps more: right after the page, Reclaim opens its own TLS connection to the *same server
address* the browser reached (one the guard already allowed, checked again here), keeps
the certificate it is given (DER as PEM, SHA-256 fingerprint, subject, issuer, serial,
validity, names), and checks it against the trust store -- hostname included.

An untrusted certificate (self-signed, expired, another name) does not stop a capture:
sites that sell this footage are not always well kept, and what they serve is evidence all
the same. The problem is recorded beside the certificate instead.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from reclaim.monitor.guard import AddressPolicy


class CertificateUnavailable(Exception):
    """No certificate could be obtained from the server (the message says why)."""


def check_certificate(
    host: str,
    address: str,
    port: int,
    *,
    policy: AddressPolicy,
    trust: ssl.SSLContext | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The certificate ``address``:``port`` presents for ``host``, and whether ``trust``
    (default: the system's store) accepts it for that name. Raises
    :class:`CertificateUnavailable` when there is no certificate to keep."""
    ip = ipaddress.ip_address(address.strip("[]"))
    refusal = policy.refusal(ip)
    if refusal is not None:
        raise CertificateUnavailable(f"{address} is a forbidden address: {refusal}")
    anything = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anything.check_hostname = False
    anything.verify_mode = ssl.CERT_NONE
    try:
        der, protocol, cipher = _handshake(anything, host, str(ip), port, timeout)
    except ssl.SSLError as error:
        raise CertificateUnavailable(
            f"no TLS with {host} ({ip}): {error.reason or error}"
        ) from None
    if der is None:
        raise CertificateUnavailable(f"{host} ({ip}) presented no certificate")
    trusted, problem = True, None
    try:
        _handshake(trust or ssl.create_default_context(), host, str(ip), port, timeout)
    except ssl.SSLCertVerificationError as error:
        trusted, problem = False, str(error.verify_message or error.reason or error)
    except ssl.SSLError as error:
        trusted, problem = False, f"the trusted handshake failed: {error.reason or error}"
    return {
        "checked_at": datetime.now(UTC).isoformat(),
        "host": host,
        "address": str(ip),
        "port": port,
        "protocol": protocol,
        "cipher": cipher,
        "trusted": trusted,
        "problem": problem,
        "certificate": describe(der),
    }


def describe(der: bytes) -> dict[str, Any]:
    """A certificate's identifying facts, and the certificate itself (PEM)."""
    certificate = x509.load_der_x509_certificate(der)
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(name) for name in extension.value.get_values_for_type(x509.DNSName)] + [
            str(name) for name in extension.value.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        names = []
    return {
        "sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "names": names,
        "pem": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }


def _handshake(
    context: ssl.SSLContext, host: str, address: str, port: int, timeout: float
) -> tuple[bytes | None, str | None, str | None]:
    try:
        raw = socket.create_connection((address, port), timeout=timeout)
    except OSError as error:
        raise CertificateUnavailable(f"cannot reach {address}:{port}: {error}") from None
    try:
        # An IP address as the name sends no SNI but is still what the check matches.
        with context.wrap_socket(raw, server_hostname=host) as tls:
            cipher = tls.cipher()
            return tls.getpeercert(binary_form=True), tls.version(), cipher[0] if cipher else None
    except ssl.SSLError:
        raise
    except OSError as error:
        raise CertificateUnavailable(f"TLS with {address}:{port} failed: {error}") from None
    finally:
        raw.close()
