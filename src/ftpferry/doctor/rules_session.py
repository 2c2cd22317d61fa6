"""Rules about the session before the data channel: control, greeting, TLS, login.

Each rule is a pure function of the observations (see :mod:`.findings`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .finding import Finding
from .observations import Observations
from .phrases import connect_text, reply_text

__all__ = [
    "control_connection",
    "greeting",
    "login",
    "plain_but_tls_offered",
    "stopped_elsewhere",
    "tls_setup",
]


# -- before the data channel ----------------------------------------------------------------


def control_connection(observations: Observations) -> Iterable[Finding]:
    """The control connection could not be opened at all."""
    attempt = observations.control
    if attempt is None or attempt.outcome == "ok":
        return
    where = f"{observations.host} port {observations.port}"
    evidence = (connect_text(attempt),)
    if attempt.outcome == "timeout":
        yield Finding(
            code="control-connect-timeout",
            severity="error",
            title=f"nothing answers at {where}",
            evidence=evidence,
            fix=(
                f"Check the host and the port. Packets to port {observations.port} are dropped "
                "on the way: a firewall, a cloud security group, or a router that does not "
                "forward the port to the server."
            ),
        )
    elif attempt.outcome == "refused":
        yield Finding(
            code="control-connect-refused",
            severity="error",
            title=f"no FTP server listens at {where}",
            evidence=evidence,
            fix=(
                "Check the port (FTP uses 21, `ftpferry serve` 2121 by default) and that the "
                "server runs and listens on an address reachable from here "
                "(`ftpferry serve --host 0.0.0.0`, not 127.0.0.1)."
            ),
        )
    elif attempt.outcome == "unresolved":
        yield Finding(
            code="control-host-unknown",
            severity="error",
            title=f"the host name {observations.host} does not resolve",
            evidence=evidence,
            fix="Check the spelling of the host name and your DNS settings.",
        )
    else:
        yield Finding(
            code="control-connect-failed",
            severity="error",
            title=f"cannot connect to {where}",
            evidence=evidence,
            fix="Check the address and the route to it (`ping`, `traceroute`).",
        )


def greeting(observations: Observations) -> Iterable[Finding]:
    """The server turned the session away at once, or never greeted."""
    control = observations.control
    if control is None or control.outcome != "ok":
        return
    hello = observations.greeting
    if hello is not None and hello.code == 220:
        return
    if hello is None:
        if observations.tls is not None and not observations.tls.ok:
            return  # the TLS rules explain it
        causes = (
            "the port is not an FTP server (a proxy, a load balancer without a backend, "
            "another service), or the server is overloaded."
        )
        if observations.tls_mode == "implicit":  # TLS worked: the wrong protocol it is not
            fix = causes[0].upper() + causes[1:]
        else:
            fix = (
                "If this is an implicit-FTPS port (TLS from the first byte), use "
                f"ftps://host:990/, or --implicit-tls for another port. Otherwise {causes}"
            )
        yield Finding(
            code="no-greeting",
            severity="error",
            title="the connection opens, but no FTP greeting comes",
            evidence=(connect_text(control), observations.stopped or "no 220 greeting"),
            fix=fix,
        )
        return
    fix = "The server refuses the session before login."
    if hello.code == 421:
        fix += (
            " 421 means too many connections, or this address is banned: ftpferry's "
            "defender bans an address after repeated failed logins (wait, or list your "
            "network under [defender] allow)."
        )
    yield Finding(
        code="greeting-refused",
        severity="error",
        title=f"the server greets with {hello.code}, not 220",
        evidence=(f"greeting: {reply_text(hello)}",),
        fix=fix,
    )


def tls_setup(observations: Observations) -> Iterable[Finding]:
    """AUTH TLS refused, certificate problems, handshake failures, PROT P refused."""
    tls = observations.tls
    if tls is None or tls.ok or tls.problem is None:
        return
    evidence: list[str] = []
    if tls.reply is not None:
        evidence.append(
            f"{'PBSZ/PROT' if tls.problem == 'prot-refused' else 'AUTH TLS'}: "
            f"{reply_text(tls.reply)}"
        )
    if tls.error and tls.problem != "auth-refused":
        evidence.append(tls.error)
    cert = tls.certificate
    if cert is not None:
        issuer = "itself (self-signed)" if cert.self_signed else cert.issuer
        evidence.append(
            f"certificate: {cert.subject}, issued by {issuer}, valid until {cert.not_after}"
        )
        evidence.append(f"it is for: {', '.join(cert.names) or '(no names)'}")
        evidence.append(f"SHA-256 fingerprint: {cert.sha256}")
    host = observations.host
    if tls.problem == "auth-refused":
        offered = any(line.upper().startswith("AUTH") for line in observations.features)
        evidence.append("FEAT lists AUTH" if offered else "FEAT does not list AUTH TLS")
        yield Finding(
            code="tls-auth-refused",
            severity="error",
            title="AUTH TLS refused: the server does not offer explicit FTPS here",
            evidence=tuple(evidence),
            fix=(
                "Use ftp:// if an unencrypted connection is acceptable, or enable FTPS on the "
                "server: ftpferry serve --tls-cert F --tls-key F (or --tls-self-signed); "
                "vsftpd ssl_enable=YES; ProFTPD TLSEngine on; pure-ftpd --tls=1. A server "
                "that speaks implicit FTPS is reached with ftps://host:990/, or with "
                "--implicit-tls on another port."
            ),
        )
    elif tls.problem == "untrusted":
        yield Finding(
            code="tls-certificate-untrusted",
            severity="error",
            title="the server's TLS certificate is not trusted",
            evidence=tuple(evidence),
            fix=(
                "If this is the server you expect (compare the fingerprint with the one "
                "`ftpferry serve` printed, or ask its administrator), pass --cafile FILE with "
                "the CA certificate that issued it; for a self-signed certificate, the "
                "certificate itself. Only for a test: --insecure (no verification at all)."
            ),
        )
    elif tls.problem == "hostname-mismatch":
        names = ", ".join(cert.names) if cert is not None and cert.names else "other names"
        yield Finding(
            code="tls-hostname-mismatch",
            severity="error",
            title=f"the TLS certificate is not for {host}",
            evidence=tuple(evidence),
            fix=(
                f"Connect with a name the certificate covers ({names}), or give the server a "
                f"certificate that includes {host}. --insecure skips the check (tests only)."
            ),
        )
    elif tls.problem == "expired":
        yield Finding(
            code="tls-certificate-expired",
            severity="error",
            title="the server's TLS certificate has expired (or is not valid yet)",
            evidence=tuple(evidence),
            fix="Renew the server's certificate, and check the clocks of both machines.",
        )
    elif tls.problem == "prot-refused":
        yield Finding(
            code="tls-prot-refused",
            severity="error",
            title="the server refuses PBSZ 0 / PROT P: data connections cannot be encrypted",
            evidence=tuple(evidence),
            fix="Enable protected data connections on the server (RFC 4217 PROT P).",
        )
    else:
        yield Finding(
            code="tls-handshake-failed",
            severity="error",
            title="the TLS handshake on the control connection fails",
            evidence=tuple(evidence),
            fix=(
                "Check that the port speaks the TLS you asked for: ftps://host/ is explicit "
                "FTPS (AUTH TLS, port 21); ftps://host:990/, or --implicit-tls on another "
                "port, is implicit FTPS (TLS from the first byte)"
                + (
                    ", which this was: for a port that speaks plain FTP or AUTH TLS, leave "
                    "--implicit-tls out. "
                    if tls.mode == "implicit"
                    else ". "
                )
                + "ftpferry needs TLS 1.2 or later; an old server may offer only older "
                "versions or ciphers."
            ),
        )


def login(observations: Observations) -> Iterable[Finding]:
    """No password, wrong password, or TLS required before login."""
    info = observations.login
    if info is None or info.ok:
        return
    evidence = [f"USER {info.user}"]
    if info.reply is not None:
        evidence.append(f"answer: {reply_text(info.reply)}")
    if info.needed_password and info.password_source == "none":  # noqa: S105 - a source
        yield Finding(
            code="login-no-password",
            severity="error",
            title=f"the server wants a password for {info.user} and none was found",
            evidence=tuple(evidence),
            fix=(
                "Give the password in the URL (ftp://user:password@host/, with special "
                "characters percent-encoded), in the FTPFERRY_PASSWORD environment variable, "
                "or in ~/.netrc (machine HOST login USER password PASSWORD)."
            ),
        )
        return
    text = info.reply.text.lower() if info.reply is not None else ""
    if observations.tls_mode == "none" and re.search(r"\b(tls|ssl|auth|encrypt)", text):
        yield Finding(
            code="login-requires-tls",
            severity="error",
            title="the server requires TLS before login",
            evidence=tuple(evidence),
            fix=f"Use ftps://{observations.host}:{observations.port}/ (explicit FTPS).",
        )
        return
    evidence.append(f"password from: {info.password_source}")
    yield Finding(
        code="login-refused",
        severity="error",
        title=f"login as {info.user} refused",
        evidence=tuple(evidence),
        fix=(
            "Check the user name and the password (looked up in the URL, then "
            "FTPFERRY_PASSWORD, then ~/.netrc). Servers slow down repeated failures; "
            "ftpferry bans an address after 10 within 5 minutes."
        ),
    )


def stopped_elsewhere(observations: Observations) -> Iterable[Finding]:
    """The run stopped for a reason no other rule explains (time-out, closed connection)."""
    if not observations.stopped or observations.probes:
        return
    control = observations.control
    explained = (
        control is None
        or control.outcome != "ok"
        or observations.greeting is None
        or observations.greeting.code != 220
        or (observations.tls is not None and not observations.tls.ok)
        or (observations.login is not None and not observations.login.ok)
    )
    if explained:
        return
    yield Finding(
        code="session-failed",
        severity="error",
        title="the session broke off before the data channel could be checked",
        evidence=(observations.stopped,),
        fix="See the dialogue (-v) for the last exchange before the failure.",
    )


def plain_but_tls_offered(observations: Observations) -> Iterable[Finding]:
    """ftp:// to a server that offers FTPS: the password travels in clear text."""
    if observations.tls_mode != "none" or observations.login is None:
        return
    if not any(line.upper().startswith("AUTH TLS") for line in observations.features):
        return
    yield Finding(
        code="ftps-available",
        severity="info",
        title="the server offers FTPS, but ftp:// sends the password in clear text",
        evidence=("FEAT lists AUTH TLS",),
        fix=f"Use ftps://{observations.host}:{observations.port}/ to encrypt the session.",
    )
