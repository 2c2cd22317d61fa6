"""TLS for the doctor: the context, naming a handshake failure, reading a certificate.

A failed handshake says little by itself ("certificate verify failed").
What a user needs is *which* of the usual causes it is (not trusted, wrong
name, expired) and the certificate itself: its names, its issuer and its
SHA-256 fingerprint, which ``ftpferry serve`` prints at start-up for a
self-signed certificate so that the two can be compared before trusting it.
So after a verification failure the doctor reads the certificate once more
without verifying (``_Prober._read_certificate`` in :mod:`.probe`), and only
to report it.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from ftpferry.client.config import ClientConfig

from .observations import CertificateInfo, TLSProblem

__all__ = ["certificate_info", "classify_tls_error", "make_context"]

# OpenSSL X509_V_ERR_* codes, as in SSLCertVerificationError.verify_code.
_HOSTNAME_CODES = frozenset({62, 64})  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
_EXPIRY_CODES = frozenset({9, 10})  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED


def make_context(*, verify: bool, cafile: str | None) -> ssl.SSLContext:
    """The same context the client library would build for these settings.

    One context serves the control and the data connections: a TLS session
    can only be resumed through the context that created it.
    """
    return ClientConfig(verify=verify, cafile=cafile).tls_context()


def classify_tls_error(error: BaseException) -> TLSProblem:
    """Which of the usual causes a handshake failure is."""
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        message = (error.verify_message or "").lower()
        if code in _HOSTNAME_CODES or "mismatch" in message:
            return "hostname-mismatch"
        if code in _EXPIRY_CODES or "expired" in message or "not yet valid" in message:
            return "expired"
        return "untrusted"
    return "handshake"


def describe_tls_error(error: BaseException) -> str:
    """The verification message when there is one, else the error text."""
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError) and error.reason:
        return f"{error.reason} ({error.library or 'ssl'})"
    return str(error) or type(error).__name__


def _fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common:
        value = common[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return name.rfc4514_string()


def certificate_info(der: bytes) -> CertificateInfo | None:
    """Subject, issuer, names, expiry and fingerprint of a DER certificate."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    names: list[str] = []
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        pass
    else:
        names += extension.value.get_values_for_type(x509.DNSName)
        names += [str(address) for address in extension.value.get_values_for_type(x509.IPAddress)]
    not_after = cert.not_valid_after_utc.astimezone(datetime.UTC)
    return CertificateInfo(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        self_signed=cert.subject == cert.issuer,
        names=tuple(names),
        not_after=not_after.strftime("%Y-%m-%d %H:%M UTC"),
        sha256=_fingerprint(der),
    )


def peer_certificate(sock: ssl.SSLSocket) -> CertificateInfo | None:
    """The certificate of an established TLS connection, verified or not."""
    der = sock.getpeercert(binary_form=True)
    return certificate_info(der) if der else None
