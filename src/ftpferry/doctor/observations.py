"""What the doctor saw: plain values, no I/O and no judgement.

The probe (:mod:`.probe`) fills these in; the rules (:mod:`.findings`) read
them and nothing else.  Keeping the two apart is what lets the rules be
tested from hand-written observations, without a network, and what makes
the ``--json`` output a faithful record: it is these values, field by field.

Every failure is named by a small fixed vocabulary (:data:`Failure`,
:data:`ConnectOutcome`, :data:`TLSProblem`) rather than by exception text,
because the rules must tell a time-out from a refusal without parsing
operating-system messages in whatever language the host speaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DATA_COMMANDS",
    "CertificateInfo",
    "ConnectInfo",
    "ConnectOutcome",
    "DataCommand",
    "DataProbe",
    "Failure",
    "LoginInfo",
    "Observations",
    "ReplyInfo",
    "TLSInfo",
    "TLSMode",
    "TLSProblem",
]

DataCommand = Literal["PASV", "EPSV", "PORT", "EPRT"]
DATA_COMMANDS: Final[tuple[DataCommand, ...]] = ("PASV", "EPSV", "PORT", "EPRT")
"""The probe order: passive first, as every client tries it first."""

ConnectOutcome = Literal["ok", "timeout", "refused", "unreachable", "unresolved", "error"]
"""How a TCP connect ended: ``timeout`` (packets silently dropped), ``refused``
(a RST: nothing listens), ``unreachable`` (an ICMP error), ``unresolved``
(the host name has no address), ``error`` (anything else)."""

Failure = Literal[
    "setup-refused",  # PASV/EPSV/PORT/EPRT answered with 4xx/5xx
    "bad-reply",  # a 227/229 whose address does not parse
    "unusable-address",  # PASV named an address nobody can connect to (0.0.0.0)
    "connect-failed",  # passive: our connect failed (see ConnectInfo.outcome)
    "no-connection",  # active: the server's connection never arrived
    "transfer-refused",  # LIST answered 4xx/5xx instead of 1xx
    "tls-handshake",  # TLS on the data connection failed
    "transfer-failed",  # the data arrived (or not) and the final reply was not 2xx
    "reply-timeout",  # the server did not answer within the time-out
    "control-lost",  # the control connection broke (or could not be reopened)
    "not-applicable",  # PORT or PASV on an IPv6 control connection
    "local-error",  # this machine could not listen for the active connection
]

TLSMode = Literal["none", "explicit", "implicit"]

TLSProblem = Literal[
    "auth-refused",  # AUTH TLS answered with something other than 234
    "untrusted",  # certificate chain not trusted (self-signed, unknown CA)
    "hostname-mismatch",  # certificate valid, but not for the name connected to
    "expired",  # certificate expired or not yet valid
    "handshake",  # any other handshake failure
    "prot-refused",  # PBSZ 0 / PROT P refused
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyInfo:
    """One server reply: code and text (lines joined by newlines)."""

    code: int
    text: str

    def line(self) -> str:
        """``"227 Entering Passive Mode (...)"``, on one line."""
        return f"{self.code} {' | '.join(self.text.splitlines()) or ''}".rstrip()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectInfo:
    """One TCP connect attempt: where to, how it ended and how long it took."""

    host: str
    port: int
    outcome: ConnectOutcome
    seconds: float
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInfo:
    """The server certificate, read even when it could not be verified.

    ``names`` are its subject alternative names (DNS names and IP
    addresses); ``sha256`` is the fingerprint in the colon-separated form
    ``ftpferry serve`` prints at start-up, so the two can be compared.
    """

    subject: str
    issuer: str
    self_signed: bool
    names: tuple[str, ...]
    not_after: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSInfo:
    """How TLS on the control connection went.

    Attributes:
        mode: explicit (AUTH TLS) or implicit (TLS from the first byte).
        ok: the control connection is encrypted and PROT P is in force.
        verified: the certificate was verified (False with ``--insecure``).
        problem: what went wrong, None when nothing did.
        error: the TLS library's message for the problem.
        reply: the reply to AUTH TLS, or to PBSZ/PROT when those were refused.
        version: negotiated protocol (``TLSv1.3``).
        cipher: negotiated cipher suite.
        certificate: the server's certificate, when one was seen.
    """

    mode: TLSMode
    ok: bool
    verified: bool
    problem: TLSProblem | None = None
    error: str = ""
    reply: ReplyInfo | None = None
    version: str = ""
    cipher: str = ""
    certificate: CertificateInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginInfo:
    """USER/PASS: as whom, where the password came from, and the answer.

    ``password_source`` is ``url``, ``env``, ``netrc``, ``anonymous`` or
    ``none`` (nothing found; the server may still not need one).
    """

    user: str
    password_source: str
    ok: bool
    reply: ReplyInfo | None = None
    needed_password: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DataProbe:
    """One small LIST over one data-channel command, observed step by step.

    Attributes:
        command: PASV, EPSV, PORT or EPRT.
        ok: the listing arrived and the server confirmed it (2xx).
        seconds: from sending the command to the final reply (or the failure).
        failure: the step that failed, None when ``ok``.
        error: a one-line account of the failure, for people.
        setup_reply: the reply to the command itself (227, 229, 200 or a refusal).
        advertised_host: passive: the address in the 227 reply (None for EPSV);
            active: the address we named in PORT/EPRT.
        advertised_port: the port in the reply (passive) or that we named (active).
        connect: passive: our connection attempt to the data port.
        listen: active: where we listened (``addr port``).
        arrived: active: whether the server's connection ever arrived.
        arrived_from: active: the address it came from.
        transfer_reply: the first reply to LIST (150/125, or 425 ...).
        final_reply: the reply that ended the transfer (226, 426 ...).
        tls: whether the data connection was (to be) encrypted.
        tls_session_reused: whether the data connection resumed the control
            connection's TLS session (None without TLS or before the handshake).
        bytes_received: listing bytes received.
        via_control_address: PASV only, when the 227 reply named an address
            other than the control connection's: the same probe again,
            connecting to the control address instead, as curl, lftp and
            Python's ftplib do by default.
    """

    command: DataCommand
    ok: bool
    seconds: float
    failure: Failure | None = None
    error: str = ""
    setup_reply: ReplyInfo | None = None
    advertised_host: str | None = None
    advertised_port: int | None = None
    connect: ConnectInfo | None = None
    listen: str | None = None
    arrived: bool | None = None
    arrived_from: str | None = None
    transfer_reply: ReplyInfo | None = None
    final_reply: ReplyInfo | None = None
    tls: bool = False
    tls_session_reused: bool | None = None
    bytes_received: int = 0
    via_control_address: DataProbe | None = None

    @property
    def works(self) -> bool:
        """True when this command carries data for some client: as the server
        advertised it, or (PASV) by connecting to the control address."""
        return self.ok or (self.via_control_address is not None and self.via_control_address.ok)


@dataclass(frozen=True, slots=True, kw_only=True)
class Observations:
    """Everything one ``ftpferry doctor`` run saw.

    Attributes:
        url: the URL checked, without the password.
        host: the host name or address from the URL.
        port: the control port.
        tls_mode: none (``ftp://``), explicit or implicit FTPS.
        timeout: the ``--timeout`` every step was bounded by.
        active_address: ``--active-address``, when given.
        control: the control connection attempt.
        peer_address: the server's IP address on the control connection.
        local_address: our IP address on the control connection.
        greeting: the server's first reply (220, or 421 ...).
        tls: how TLS went (None for ``ftp://``).
        login: how the login went (None when the run stopped before it).
        features: the FEAT lines (empty when the server offers no FEAT).
        probes: the data-channel probes, in :data:`DATA_COMMANDS` order.
        stopped: why the run ended before the data-channel probes ("" when
            it did not): a time-out, a closed connection, a refusal.
        dialogue: every line sent and received (``PASS`` masked) and what
            happened in between (``**`` lines), in order.
    """

    url: str
    host: str
    port: int
    tls_mode: TLSMode
    timeout: float
    active_address: str | None = None
    control: ConnectInfo | None = None
    peer_address: str = ""
    local_address: str = ""
    greeting: ReplyInfo | None = None
    tls: TLSInfo | None = None
    login: LoginInfo | None = None
    features: tuple[str, ...] = ()
    probes: tuple[DataProbe, ...] = ()
    stopped: str = ""
    dialogue: tuple[str, ...] = ()

    def probe(self, command: DataCommand) -> DataProbe | None:
        """The probe of ``command``, if it ran."""
        for probe in self.probes:
            if probe.command == command:
                return probe
        return None

    @property
    def any_mode_works(self) -> bool:
        """True when at least one data-channel mode carried a listing."""
        return any(probe.works for probe in self.probes)
