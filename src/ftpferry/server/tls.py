"""FTPS (RFC 4217): the server's TLS context and TLS on raw data sockets.

The control channel is upgraded with :meth:`asyncio.loop.start_tls` (AUTH
TLS) or accepted already wrapped (implicit FTPS).  Data connections are raw
non-blocking sockets wrapped by :mod:`ftpferry.netio`.

One :class:`ssl.SSLContext` serves both channels, which is what lets a data
connection resume the control connection's TLS session: the server-side
session cache lives in the context.  Some firewall and client combinations
need that reuse proven (vsftpd's ``require_ssl_reuse``), so it can be
required by policy.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import logging
import socket
import ssl
from pathlib import Path

from ftpferry.netio import tls_handshake

__all__ = [
    "build_server_context",
    "certificate_fingerprint",
    "tls_server_handshake",
    "write_self_signed",
]

log = logging.getLogger("ftpferry.tls")


def build_server_context(cert: Path, key: Path, *, minimum: str = "1.2") -> ssl.SSLContext:
    """A server context with sane defaults: TLS >= 1.2, no compression, tickets on."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if minimum == "1.3" else ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from exc
    return context


def write_self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """Create a development certificate and key in ``directory`` (reused if present)."""
    from cryptography import x509  # noqa: PLC0415 - only --tls-self-signed needs it
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    cert_path = directory / "ftpferry-selfsigned-cert.pem"
    key_path = directory / "ftpferry-selfsigned-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ftpferry {host}")])
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for text in {host, "127.0.0.1", "::1"}:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            alt_names.append(x509.DNSName(text))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def certificate_fingerprint(cert: Path) -> str:
    """SHA-256 fingerprint of a PEM certificate, as browsers and curl show it."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


async def tls_server_handshake(
    context: ssl.SSLContext, sock: socket.socket, timeout: float
) -> ssl.SSLSocket:
    """TLS on an accepted or connected data socket, server side, bounded in time.

    No TLS 1.3 session tickets are sent on data connections.  Tickets arrive
    after the handshake, and clients such as curl and lftp never read them
    on an upload; closing a socket with unread data makes the kernel send a
    reset that destroys upload bytes still in flight, while the server sees
    an ordinary end of file.  Control connections still get tickets, so a
    data connection can still resume their session.  OpenSSL copies the
    setting when the connection is created, and the event loop is single
    threaded, so changing it around the wrap affects this one only.
    """
    tickets = context.num_tickets
    context.num_tickets = 0
    try:
        async with asyncio.timeout(timeout):
            return await tls_handshake(context, sock, server_side=True)
    finally:
        context.num_tickets = tickets
