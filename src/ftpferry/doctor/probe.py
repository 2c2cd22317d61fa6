"""Running the checks: connect, greet, TLS, log in, FEAT, then the four data probes.

Theory of operation
-------------------
:func:`run_doctor` opens one control connection and walks the session
open step by step (the same order as the client library's
:mod:`ftpferry.client.login`), recording each answer in
:class:`~.observations.Observations`.  Any failure before the data probes
ends the run with ``stopped`` saying where; a certificate that fails
verification is then read once more *without* verification, only so the
report can show it (:func:`_read_certificate`).

The data probes (:mod:`.dataprobe`) run in :data:`DATA_COMMANDS` order on
the same connection while it stays in step.  A probe that leaves it out
of step (a reply that did not come in time may still come) marks it
broken; the next probe then gets a freshly opened and logged-in
connection, so one failure never colours the next observation.  When the
PASV reply names an address other than the control connection's and the
connect to it fails, PASV is probed once more against the control address,
which is what curl, lftp and Python's ftplib do by default.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ftpferry.client.errors import ConnectionLost, FTPTimeout, ProtocolError
from ftpferry.client.replies import Reply
from ftpferry.client.urls import FTPTarget, resolve_password

from .addresses import same_address
from .dataprobe import ProbeSettings, probe_active, probe_passive
from .observations import (
    DATA_COMMANDS,
    CertificateInfo,
    ConnectInfo,
    DataCommand,
    DataProbe,
    LoginInfo,
    Observations,
    ReplyInfo,
    TLSInfo,
    TLSMode,
)
from .tlsinfo import (
    classify_tls_error,
    describe_tls_error,
    make_context,
    peer_certificate,
)
from .wire import Dialogue, LineSink, connect

__all__ = ["DoctorOptions", "run_doctor"]

RETRY_AFTER_FAILED_CONNECT = frozenset({"connect-failed", "unusable-address"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DoctorOptions:
    """The doctor's settings (the command-line options).

    Attributes:
        timeout: seconds each step and each data probe may take.
        active_address: what PORT/EPRT advertise (default: our control address).
        verify: verify the server certificate (off: ``--insecure``).
        cafile: PEM file of extra CAs to verify against.
        netrc_file: where to look passwords up (default ``~/.netrc``).
        environ: the environment to read ``FTPFERRY_PASSWORD`` from
            (default ``os.environ``).
    """

    timeout: float = 5.0
    active_address: str | None = None
    verify: bool = True
    cafile: str | None = None
    netrc_file: str | None = None
    environ: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be positive")
        if self.active_address is not None:
            try:
                ipaddress.ip_address(self.active_address)
            except ValueError as exc:
                raise ValueError(f"{self.active_address!r} is not an IP address") from exc


class _Stop(Exception):
    """Internal: the session could not be opened; the message says where it stopped."""


@dataclass(slots=True)
class _Opening:
    """What opening one session learnt (becomes Observations fields on the first)."""

    control: ConnectInfo | None = None
    peer_address: str = ""
    local_address: str = ""
    greeting: ReplyInfo | None = None
    tls: TLSInfo | None = None
    login: LoginInfo | None = None
    features: tuple[str, ...] = ()
    stopped: str = ""
    dialogue: Dialogue | None = None
    context: ssl.SSLContext | None = field(default=None, repr=False)


def _info(reply: Reply) -> ReplyInfo:
    return ReplyInfo(code=reply.code, text=reply.text)


def _tls_mode(target: FTPTarget) -> TLSMode:
    if target.implicit_tls:
        return "implicit"
    return "explicit" if target.tls else "none"


class _Prober:
    """One doctor run (see the module docstring)."""

    def __init__(self, target: FTPTarget, options: DoctorOptions, sink: LineSink | None) -> None:
        self.target = target
        self.options = options
        self.sink = sink
        self.lines: list[str] = []
        self.mode = _tls_mode(target)

    def record(self, line: str) -> None:
        self.lines.append(line)
        if self.sink is not None:
            self.sink(line)

    # -- opening a session -----------------------------------------------------------

    def open(self) -> _Opening:
        """Connect, greet, TLS, log in, FEAT; ``stopped`` says where it ended early."""
        opening = _Opening()
        try:
            self._open(opening)
        except _Stop as exc:
            opening.stopped = str(exc)
        except FTPTimeout as exc:
            opening.stopped = f"the server stopped answering: {exc}"
        except (ConnectionLost, ProtocolError) as exc:
            opening.stopped = str(exc)
        if opening.stopped:
            self.record(f"** stopped: {opening.stopped}")
            if opening.dialogue is not None:
                opening.dialogue.close(quit_first=False)
                opening.dialogue = None
        return opening

    def _open(self, opening: _Opening) -> None:
        target, timeout = self.target, self.options.timeout
        sock, attempt = connect(target.host, target.port, timeout, self.record)
        opening.control = attempt
        if sock is None:
            raise _Stop(f"cannot connect to {target.host} port {target.port}: {attempt.error}")
        dialogue = Dialogue(sock, timeout=timeout, record=self.record)
        opening.dialogue = dialogue
        opening.peer_address, opening.local_address = dialogue.peer_host, dialogue.local_host
        if self.mode != "none":
            opening.context = make_context(verify=self.options.verify, cafile=self.options.cafile)
        if self.mode == "implicit":
            self._handshake(opening, dialogue, auth_reply=None)
        greeting = dialogue.read_reply()
        while greeting.code == 120:
            greeting = dialogue.read_reply()
        opening.greeting = _info(greeting)
        if greeting.code != 220:
            raise _Stop(f"the server greeted with {greeting.code}, not 220")
        if self.mode == "explicit":
            reply = dialogue.command("AUTH TLS")
            if reply.code != 234:
                opening.tls = TLSInfo(
                    mode=self.mode,
                    ok=False,
                    verified=False,
                    problem="auth-refused",
                    error=f"AUTH TLS answered {reply.code}",
                    reply=_info(reply),
                )
                raise _Stop(f"the server refused AUTH TLS ({reply.code})")
            self._handshake(opening, dialogue, auth_reply=_info(reply))
        features_reply = dialogue.command("FEAT")
        self._login(opening, dialogue)
        if opening.tls is not None:
            for line in ("PBSZ 0", "PROT P"):
                reply = dialogue.command(line)
                if reply.code // 100 != 2:
                    opening.tls = replace(
                        opening.tls,
                        ok=False,
                        problem="prot-refused",
                        error=f"{line} answered {reply.code}",
                        reply=_info(reply),
                    )
                    raise _Stop(f"the server refused {line} ({reply.code})")
        if features_reply.code // 100 != 2:  # some servers answer FEAT only after login
            features_reply = dialogue.command("FEAT")
        if features_reply.code == 211:
            opening.features = tuple(line.strip() for line in features_reply.lines[1:-1])

    def _handshake(
        self, opening: _Opening, dialogue: Dialogue, *, auth_reply: ReplyInfo | None
    ) -> None:
        assert opening.context is not None
        try:
            wrapped = dialogue.start_tls(opening.context, self.target.host)
        except (ssl.SSLError, OSError, ValueError) as exc:
            problem = classify_tls_error(exc)
            error = describe_tls_error(exc)
            self.record(f"** TLS handshake failed: {error}")
            certificate = (
                self._read_certificate() if isinstance(exc, ssl.SSLCertVerificationError) else None
            )
            opening.tls = TLSInfo(
                mode=self.mode,
                ok=False,
                verified=False,
                problem=problem,
                error=error,
                reply=auth_reply,
                certificate=certificate,
            )
            raise _Stop(f"TLS handshake failed: {error}") from exc
        cipher = wrapped.cipher()
        opening.tls = TLSInfo(
            mode=self.mode,
            ok=True,
            verified=self.options.verify,
            reply=auth_reply,
            version=wrapped.version() or "",
            cipher=cipher[0] if cipher else "",
            certificate=peer_certificate(wrapped),
        )
        self.record(f"** TLS: {opening.tls.version} {opening.tls.cipher}")

    def _read_certificate(self) -> CertificateInfo | None:
        """The certificate that failed verification, read without verifying it."""
        self.record("** reading the certificate again, without verification, to show it")
        timeout = self.options.timeout
        sock, _ = connect(self.target.host, self.target.port, timeout, self.record)
        if sock is None:
            return None
        dialogue = Dialogue(sock, timeout=timeout, record=self.record)
        context = make_context(verify=False, cafile=None)
        try:
            if self.mode == "explicit":
                dialogue.read_reply()
                if dialogue.command("AUTH TLS").code != 234:
                    return None
            return peer_certificate(dialogue.start_tls(context, self.target.host))
        except (ssl.SSLError, OSError, ValueError, FTPTimeout, ConnectionLost, ProtocolError):
            return None
        finally:
            dialogue.close(quit_first=False)

    def _login(self, opening: _Opening, dialogue: Dialogue) -> None:
        target = self.target
        login = resolve_password(
            target.host,
            target.user,
            url_password=target.password,
            environ=self.options.environ,
            netrc_file=self.options.netrc_file,
        )
        reply = dialogue.command(f"USER {login.user}")
        info = LoginInfo(
            user=login.user, password_source=login.source, ok=False, reply=_info(reply)
        )
        if reply.code in {230, 232}:
            opening.login = replace(info, ok=True)
            return
        if reply.code == 331:
            info = replace(info, needed_password=True)
            if login.password is None:
                opening.login = info
                raise _Stop("the server asks for a password and none was found")
            reply = dialogue.command(f"PASS {login.password}")
            info = replace(info, reply=_info(reply))
            if reply.code in {230, 202}:
                opening.login = replace(info, ok=True)
                return
        opening.login = info
        raise _Stop(f"login refused ({reply.code})")

    # -- the run ------------------------------------------------------------------------

    def run(self) -> Observations:
        first = self.open()
        observations = Observations(
            url=self.target.url(),
            host=self.target.host,
            port=self.target.port,
            tls_mode=self.mode,
            timeout=self.options.timeout,
            active_address=self.options.active_address,
            control=first.control,
            peer_address=first.peer_address,
            local_address=first.local_address,
            greeting=first.greeting,
            tls=first.tls,
            login=first.login,
            features=first.features,
            stopped=first.stopped,
        )
        if first.dialogue is not None:
            probes = self._probe_all(first)
            observations = replace(observations, probes=tuple(probes))
        return replace(observations, dialogue=tuple(self.lines))

    def _probe_all(self, first: _Opening) -> list[DataProbe]:
        settings = ProbeSettings(
            path=self.target.path,
            timeout=self.options.timeout,
            tls_context=first.context if first.tls is not None else None,
            server_hostname=self.target.host,
            active_address=self.options.active_address,
        )
        current: _Opening | None = first
        probes: list[DataProbe] = []
        for command in DATA_COMMANDS:
            self.record(f"** probing {command}")
            current = self._usable(current)
            if current is None or current.dialogue is None:
                probes.append(_unreachable(command))
                continue
            dialogue = current.dialogue
            settings = replace(settings, tls_context=current.context if current.tls else None)
            if command in {"PASV", "EPSV"}:
                probe = probe_passive(dialogue, command, settings)
            else:
                probe = probe_active(dialogue, command, settings)
            if (
                command == "PASV"
                and probe.failure in RETRY_AFTER_FAILED_CONNECT
                and probe.advertised_host is not None
                and not same_address(probe.advertised_host, first.peer_address)
            ):
                self.record("** PASV again, connecting to the control address instead")
                current = self._usable(current)
                if current is not None and current.dialogue is not None:
                    again = probe_passive(
                        current.dialogue, "PASV", settings, use_control_address=True
                    )
                    probe = replace(probe, via_control_address=again)
            probes.append(probe)
        if current is not None and current.dialogue is not None:
            current.dialogue.close()
        return probes

    def _usable(self, current: _Opening | None) -> _Opening | None:
        """``current`` while its connection is in step, else a freshly opened one."""
        if current is not None and current.dialogue is not None and not current.dialogue.broken:
            return current
        if current is not None and current.dialogue is not None:
            current.dialogue.close(quit_first=False)
        self.record("** opening a new control connection")
        fresh = self.open()
        return fresh if fresh.dialogue is not None else None


def _unreachable(command: DataCommand) -> DataProbe:
    return DataProbe(
        command=command,
        ok=False,
        seconds=0.0,
        failure="control-lost",
        error="the control connection could not be opened again for this probe",
    )


def run_doctor(
    target: FTPTarget, options: DoctorOptions | None = None, *, sink: LineSink | None = None
) -> Observations:
    """Check ``target`` and return what was observed (bounded by ``options.timeout``).

    ``sink`` receives each line of the dialogue as it happens (``-v``).
    """
    return _Prober(target, options or DoctorOptions(), sink).run()
