"""Rules about the data channel: PASV/EPSV/PORT/EPRT and TLS on data connections.

Each rule is a pure function of the observations (see :mod:`.findings`).
The patterns, and why each fix is the fix:

* PASV names an unroutable address other than the one connected to: the
  server sits behind NAT and announces its inside address; only the server
  can fix that (a masquerade address).  Clients that ignore the address
  (and EPSV, which names none) still work, which the evidence shows.
* A passive connect *times out*: packets to the data port are dropped, so
  the control port is forwarded/open and the passive range is not.  A
  *refused* connect means something answers there but nothing listens:
  a forward to the wrong host or a translated port number.
* 425 to PASV/EPSV naming a range: the server's passive ports are all taken.
* PORT/EPRT refused with 5xx: the server will not connect to the address
  named (bounce protection when NAT makes it differ from the control
  connection's, or a policy).  Accepted, but the connection never arrives:
  a firewall or NAT in front of the client drops it.  Passive is the fix
  for both: it needs no inbound connection on the client's side.
* EPSV refused while PASV works: an old server or an FTP helper in the way.
* A data connection refused for TLS session reuse: the server (vsftpd
  ``require_ssl_reuse``, ftpferry ``tls.require_session_reuse``) demands
  that it resume the control connection's TLS session.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from .addresses import is_unroutable, same_address
from .finding import Finding, Severity
from .observations import DATA_COMMANDS, DataCommand, DataProbe, Observations, ReplyInfo
from .phrases import connect_text, probe_outcome, reply_text

__all__ = [
    "active_no_connection",
    "pasv_other_address",
    "active_refused",
    "active_unsupported",
    "epsv_refused",
    "no_mode_works",
    "passive_connect_failed",
    "passive_range_exhausted",
    "pasv_private_address",
    "tls_data",
    "unexplained_failures",
]

NOT_IMPLEMENTED = frozenset({502, 504, 522})
"""Replies meaning "I do not support this command (or address family)", not "you may not"."""

UNKNOWN_COMMAND = re.compile(r"unknown|not understood|unrecogni[sz]ed|not implemented", re.I)
"""500 is both "unknown command" and, for vsftpd, "Illegal PORT command": the text decides."""

IGNORING_CLIENTS = (
    "curl (--ftp-skip-pasv-ip is its default), lftp (ftp:fix-pasv-address, its default), "
    "Python's ftplib (trust_server_pasv_ipv4_address=False, its default), ftpferry's "
    "client, and every client that uses EPSV"
)

PASSIVE_RANGE_SETTINGS = (
    "ftpferry serve --passive-ports LO-HI (`ftpferry serve --check` prints the plan); "
    "vsftpd pasv_min_port/pasv_max_port; ProFTPD PassivePorts; pure-ftpd -p LO:HI"
)


# -- helpers ---------------------------------------------------------------------------------


def _probes(observations: Observations, *commands: DataCommand) -> list[DataProbe]:
    found = (observations.probe(command) for command in commands)
    return [probe for probe in found if probe is not None]


def _passive_works(observations: Observations) -> bool:
    return any(probe.works for probe in _probes(observations, "PASV", "EPSV"))


def _unless_passive(observations: Observations) -> Severity:
    """A failure is an error only when no passive mode works: passive is what clients use."""
    return "warning" if _passive_works(observations) else "error"


def _addresses_in(text: str) -> list[str]:
    """IP addresses quoted in a reply (``... your own address 198.18.0.2, not ...``)."""
    found: list[str] = []
    for candidate in re.findall(r"[0-9A-Fa-f:.]{3,}", text):
        try:
            found.append(str(ipaddress.ip_address(candidate.strip(".:,"))))
        except ValueError:
            continue
    return found


def _not_supported(reply: ReplyInfo) -> bool:
    """True when a refusal means the command is not offered, not that it was denied."""
    return reply.code in NOT_IMPLEMENTED or (
        reply.code == 500 and UNKNOWN_COMMAND.search(reply.text) is not None
    )


def _masquerade_applies(observations: Observations, probe: DataProbe) -> bool:
    """PASV named an unroutable address other than the one we connected to."""
    named = probe.advertised_host
    return (
        probe.command == "PASV"
        and named is not None
        and not same_address(named, observations.peer_address)
        and is_unroutable(named)
    )


def _pasv_elsewhere(observations: Observations, probe: DataProbe) -> bool:
    """PASV named an address other than the one we connected to."""
    return probe.command == "PASV" and (
        probe.advertised_host is not None
        and not same_address(probe.advertised_host, observations.peer_address)
    )


def _passive_attempts(observations: Observations) -> list[tuple[str, DataProbe]]:
    """Passive probes whose connect went to the address connected to: EPSV,
    PASV when it named that address, and PASV retried at the control address.
    (A PASV naming another address has rules of its own.)"""
    attempts: list[tuple[str, DataProbe]] = []
    for probe in _probes(observations, "PASV", "EPSV"):
        if not _pasv_elsewhere(observations, probe):
            attempts.append((probe.command, probe))
        if probe.via_control_address is not None:
            attempts.append(("PASV at the control address", probe.via_control_address))
    return attempts


# -- passive ---------------------------------------------------------------------------------


def pasv_private_address(observations: Observations) -> Iterable[Finding]:
    """PASV advertises a private/unroutable address other than the control address."""
    probe = observations.probe("PASV")
    if probe is None or not _masquerade_applies(observations, probe):
        return
    peer = observations.peer_address
    evidence = [
        f"PASV: 227 names {probe.advertised_host} port {probe.advertised_port}, "
        f"but the control connection goes to {peer}",
    ]
    if probe.connect is not None:
        evidence.append(connect_text(probe.connect))
    elif probe.failure == "unusable-address":
        evidence.append(probe.error)
    again = probe.via_control_address
    if again is not None:
        evidence.append(f"PASV again at the control address {peer}: {probe_outcome(again)}")
    epsv = observations.probe("EPSV")
    if epsv is not None:
        evidence.append(f"EPSV (its reply names no address): {probe_outcome(epsv)}")
    public = peer
    fix = (
        f"Make the server announce the address clients connect to ({public}, or a DNS name "
        f"for it) in its PASV replies: ftpferry serve --masquerade-address {public}; vsftpd "
        f"pasv_address={public}; ProFTPD MasqueradeAddress {public}; pure-ftpd -P {public}."
    )
    if (again is not None and again.ok) or (epsv is not None and epsv.ok):
        fix += (
            f" Until then, clients that ignore the PASV address still work: {IGNORING_CLIENTS}; "
            "clients that trust it (ftplib with trust_server_pasv_ipv4_address=True, curl "
            "--no-ftp-skip-pasv-ip, some GUI clients) fail, and FTPS always needs the fix "
            "because no NAT helper can rewrite an encrypted 227 reply."
        )
    yield Finding(
        code="pasv-private-address",
        severity="warning" if probe.ok else "error",
        title="server needs a masquerade address: PASV advertises a private/unroutable address",
        evidence=tuple(evidence),
        fix=fix,
        modes=("PASV",),
    )


def pasv_other_address(observations: Observations) -> Iterable[Finding]:
    """PASV names another public address, which does not answer from here."""
    probe = observations.probe("PASV")
    if (
        probe is None
        or probe.ok
        or not _pasv_elsewhere(observations, probe)
        or _masquerade_applies(observations, probe)
        or probe.connect is None
    ):
        return
    peer = observations.peer_address
    evidence = [
        f"PASV: 227 names {probe.advertised_host} port {probe.advertised_port}, "
        f"but the control connection goes to {peer}",
        connect_text(probe.connect),
    ]
    again = probe.via_control_address
    if again is not None:
        evidence.append(f"PASV again at the control address {peer}: {probe_outcome(again)}")
    yield Finding(
        code="pasv-other-address",
        severity="warning" if probe.works else "error",
        title="PASV names another public address than the one you connected to, and it "
        "does not answer from here",
        evidence=tuple(evidence),
        fix=(
            "If you are testing from inside the server's own network, that is expected: "
            "routers rarely loop a connection to their public address back inside (hairpin "
            "NAT); test from outside, or give inside clients the inside address (ftpferry "
            "--passive-address CIDR=ADDR). Otherwise the masquerade address is wrong or "
            f"stale: set it to the server's public address (ftpferry --masquerade-address "
            f"{peer}; vsftpd pasv_address; ProFTPD MasqueradeAddress; pure-ftpd -P)."
        ),
        modes=("PASV",),
    )


def passive_connect_failed(observations: Observations) -> Iterable[Finding]:
    """Connecting to the passive port timed out, was refused or had no route."""
    by_outcome: dict[str, list[tuple[str, DataProbe]]] = {}
    for label, probe in _passive_attempts(observations):
        if probe.failure == "connect-failed" and probe.connect is not None:
            by_outcome.setdefault(probe.connect.outcome, []).append((label, probe))
    worked = sorted(
        {
            str(probe.advertised_port)
            for _, probe in _passive_attempts(observations)
            if probe.ok and probe.advertised_port is not None
        }
    )
    for outcome, failed in by_outcome.items():
        evidence = [f"{label}: {connect_text(p.connect)}" for label, p in failed if p.connect]
        evidence.append(
            f"the control connection to {observations.peer_address} port {observations.port} works"
        )
        if worked:
            evidence.append(f"passive connections to port(s) {', '.join(worked)} worked")
        ports = ", ".join(sorted({str(p.connect.port) for _, p in failed if p.connect}))
        modes = tuple(dict.fromkeys(p.command for _, p in failed))
        if outcome == "timeout":
            yield Finding(
                code="passive-connect-timeout",
                severity="error",
                title=(
                    "passive port connect times out: the passive range is not open/forwarded "
                    "on the server side"
                ),
                evidence=tuple(evidence),
                fix=(
                    f"Packets to the data port ({ports}) are dropped while the control port "
                    "gets through: open and forward the server's whole passive range (TCP, "
                    "inbound, to the same host and the same port numbers) on its router, "
                    "host firewall, cloud security group or container (docker -p "
                    f"LO-HI:LO-HI). The range is set by {PASSIVE_RANGE_SETTINGS}."
                    + (" Only part of the range seems to get through." if worked else "")
                ),
                modes=modes,
            )
        elif outcome == "refused":
            yield Finding(
                code="passive-connect-refused",
                severity="error",
                title="passive port connect refused: nothing listens at the port announced",
                evidence=tuple(evidence),
                fix=(
                    f"Something answers for port(s) {ports} but no FTP server listens there: a "
                    "port forward to the wrong host, a translated port number (the range "
                    "must have the same numbers outside and inside, e.g. docker -p "
                    "30000-30099:30000-30099), or a firewall that rejects. "
                    f"The range is set by {PASSIVE_RANGE_SETTINGS}."
                ),
                modes=modes,
            )
        else:
            yield Finding(
                code="passive-connect-unreachable",
                severity="error",
                title="passive port connect fails: no route to the data address",
                evidence=tuple(evidence),
                fix=(
                    "A router answers that the data address cannot be reached: the server "
                    "announces an address that is not routed from here."
                ),
                modes=modes,
            )


def passive_range_exhausted(observations: Observations) -> Iterable[Finding]:
    """PASV/EPSV answered 4xx: usually no free port in the passive range."""
    refused = [
        probe
        for probe in _probes(observations, "PASV", "EPSV")
        if probe.failure == "setup-refused"
        and probe.setup_reply is not None
        and probe.setup_reply.code // 100 == 4
    ]
    if not refused:
        return
    texts = " ".join(probe.setup_reply.text for probe in refused if probe.setup_reply)
    match = re.search(r"\b(\d{1,5})\s*-\s*(\d{1,5})\b", texts)
    named = f" ({match.group(1)}-{match.group(2)})" if match else ""
    evidence = tuple(f"{p.command}: {reply_text(p.setup_reply)}" for p in refused)
    modes = tuple(p.command for p in refused)
    if match or "passive" in texts.lower() or "port" in texts.lower():
        yield Finding(
            code="passive-range-exhausted",
            severity="error" if not _passive_works(observations) else "warning",
            title=f"no free passive port: the server's passive range{named} is exhausted",
            evidence=evidence,
            fix=(
                "Every session with an open PASV/EPSV listener or a transfer in progress holds "
                "one port of the range. Widen it, or find what holds the ports (ftpferry's "
                f"STAT shows the usage): {PASSIVE_RANGE_SETTINGS}."
            ),
            modes=modes,
        )
        return
    yield Finding(
        code="passive-refused-temporarily",
        severity="error" if not _passive_works(observations) else "warning",
        title="the server cannot open a passive port right now",
        evidence=evidence,
        fix="A 4xx reply means a temporary failure on the server: see its log.",
        modes=modes,
    )


def epsv_refused(observations: Observations) -> Iterable[Finding]:
    """EPSV refused with 5xx (while PASV works, or not)."""
    epsv, pasv = observations.probe("EPSV"), observations.probe("PASV")
    if epsv is None or epsv.setup_reply is None or epsv.setup_reply.code // 100 != 5:
        return
    evidence = [f"EPSV: {reply_text(epsv.setup_reply)}"]
    if pasv is not None:
        evidence.append(f"PASV: {probe_outcome(pasv)}")
    pasv_works = pasv is not None and pasv.works
    yield Finding(
        code="epsv-refused",
        severity="warning" if pasv_works else "error",
        title="EPSV is refused" + (" while PASV works: use PASV" if pasv_works else ""),
        evidence=tuple(evidence),
        fix=(
            "Use PASV: most clients fall back on their own; otherwise curl --disable-epsv, "
            "lftp `set ftp:prefer-epsv no`, ftpferry's client use_epsv=False. The cause is "
            "an old server without RFC 2428, or a firewall/NAT FTP helper that blocks EPSV. "
            "If the server is yours, enable EPSV: behind NAT it is the more robust mode, "
            "since its reply names no address."
        ),
        modes=("EPSV",),
    )


# -- active ----------------------------------------------------------------------------------


def active_refused(observations: Observations) -> Iterable[Finding]:
    """PORT/EPRT refused with 5xx: bounce protection or a policy."""
    refused = [
        probe
        for probe in _probes(observations, "PORT", "EPRT")
        if probe.failure == "setup-refused"
        and probe.setup_reply is not None
        and probe.setup_reply.code // 100 == 5
        and not _not_supported(probe.setup_reply)
    ]
    if not refused:
        return
    evidence = [
        f"{probe.command} naming {probe.advertised_host}: {reply_text(probe.setup_reply)}"
        for probe in refused
    ]
    named = refused[0].advertised_host or ""
    seen_as = [
        address
        for probe in refused
        for address in _addresses_in(probe.setup_reply.text if probe.setup_reply else "")
        if not same_address(address, named)
    ]
    if observations.active_address:
        evidence.append(
            f"{named} came from --active-address; your address on the control connection is "
            f"{observations.local_address}"
        )
    else:
        evidence.append(f"{named} is your address on the control connection")
    public = seen_as[0] if seen_as else "your public address"
    if seen_as:
        evidence.append(f"the server sees your control connection coming from {seen_as[0]}")
    yield Finding(
        code="active-refused",
        severity=_unless_passive(observations),
        title=(
            "the server refuses PORT/EPRT to the address you name (bounce protection or "
            "policy): use passive"
        ),
        evidence=tuple(evidence),
        fix=(
            "Use passive mode (the default of curl, lftp, ftplib and ftpferry's client). "
            "Servers connect back only to the address the control connection comes from "
            f"(bounce protection), here {public}; behind NAT that is your router's address. "
            f"Naming it (--active-address {public}; curl -P {public}; lftp ftp:port-ipv4 "
            f"{public}) only helps if the router forwards the port to you. "
            "A server may also forbid active mode outright (ftpferry allows other addresses "
            "only with permit_foreign_addresses; vsftpd port_promiscuous; ProFTPD "
            "AllowForeignAddress)."
        ),
        modes=tuple(probe.command for probe in refused),
    )


def active_unsupported(observations: Observations) -> Iterable[Finding]:
    """PORT or EPRT answered "not implemented" (500/502/504/522)."""
    for probe in _probes(observations, "PORT", "EPRT"):
        reply = probe.setup_reply
        if probe.failure != "setup-refused" or reply is None or not _not_supported(reply):
            continue
        other = observations.probe("PORT" if probe.command == "EPRT" else "EPRT")
        yield Finding(
            code=f"{probe.command.lower()}-not-supported",
            severity="info",
            title=f"the server does not support {probe.command}",
            evidence=(
                f"{probe.command}: {reply_text(reply)}",
                *((f"{other.command}: {probe_outcome(other)}",) if other is not None else ()),
            ),
            fix=(
                "Nothing to do when passive mode works; clients fall back between EPRT and "
                "PORT by themselves."
            ),
            modes=(probe.command,),
        )


def active_no_connection(observations: Observations) -> Iterable[Finding]:
    """PORT/EPRT accepted, but the server's connection never arrived."""
    lost = [
        probe for probe in _probes(observations, "PORT", "EPRT") if probe.failure == "no-connection"
    ]
    if not lost:
        return
    evidence: list[str] = []
    for probe in lost:
        listen = probe.listen or f"{probe.advertised_host} {probe.advertised_port}"
        answer = (
            f"LIST: {reply_text(probe.transfer_reply)} after {probe.seconds:.1f} s"
            if probe.transfer_reply is not None
            else f"no answer to LIST within {probe.seconds:.1f} s"
        )
        evidence.append(
            f"{probe.command} naming {probe.advertised_host} port {probe.advertised_port}: "
            f"{reply_text(probe.setup_reply)}; {answer}; nothing arrived at {listen}"
        )
    yield Finding(
        code="active-no-connection",
        severity=_unless_passive(observations),
        title="client-side firewall/NAT blocks inbound data connections: use passive",
        evidence=tuple(evidence),
        fix=(
            "Use passive mode. In active mode the server connects to you, and a NAT router or "
            "firewall in front of this machine drops that unless it forwards the port (or runs "
            "an FTP helper such as Linux's nf_conntrack_ftp, which cannot read FTPS). For "
            "active mode anyway: open/forward an inbound port range to this machine and name "
            "the router's public address with --active-address."
        ),
        modes=tuple(probe.command for probe in lost),
    )


# -- TLS on data connections ---------------------------------------------------------------


def _mentions_reuse(probe: DataProbe) -> bool:
    replies = (probe.setup_reply, probe.transfer_reply, probe.final_reply)
    text = " ".join(reply.text for reply in replies if reply is not None).lower()
    return "reuse" in text or "resum" in text


def tls_data(observations: Observations) -> Iterable[Finding]:
    """Data connections refused for TLS session reuse, or failing their TLS handshake."""
    probes = [probe for probe in observations.probes if probe.tls and not probe.ok]
    reuse = [probe for probe in probes if _mentions_reuse(probe)]
    if reuse:
        evidence = [
            f"{probe.command}: {reply_text(probe.final_reply or probe.transfer_reply)}"
            for probe in reuse
        ]
        resumed = {probe.tls_session_reused for probe in reuse}
        if resumed == {True}:
            evidence.append("the doctor's data connections did resume the control session")
        elif False in resumed:
            evidence.append(
                "the doctor offered the control connection's session; the server did not resume it"
            )
        yield Finding(
            code="tls-session-reuse-required",
            severity="error",
            title="the server requires TLS session reuse on data connections",
            evidence=tuple(evidence),
            fix=(
                "The server (vsftpd require_ssl_reuse=YES, ftpferry tls.require_session_reuse, "
                "ProFTPD TLSOptions without NoSessionReuseRequired) accepts only data "
                "connections that resume the control connection's TLS session. ftpferry's "
                "client, curl and lftp resume it; Python's ftplib does not. Use such a client, "
                "or relax the server (vsftpd require_ssl_reuse=NO, ProFTPD TLSOptions "
                "NoSessionReuseRequired, ftpferry require_session_reuse = false)."
            ),
            modes=tuple(probe.command for probe in reuse),
        )
    failed = [p for p in probes if p.failure == "tls-handshake" and not _mentions_reuse(p)]
    if failed:
        yield Finding(
            code="tls-data-handshake-failed",
            severity="error",
            title="the TLS handshake on data connections fails",
            evidence=tuple(f"{p.command}: {p.error}" for p in failed),
            fix=(
                "The control connection's TLS works but the data connection's does not: see "
                "the server's log; a TLS-intercepting firewall or a server whose data "
                "connections use another certificate are usual causes."
            ),
            modes=tuple(p.command for p in failed),
        )


# -- whatever is left, and the summary --------------------------------------------------------


def unexplained_failures(
    observations: Observations, explained: frozenset[DataCommand]
) -> Iterable[Finding]:
    """A failed probe no rule claimed: reported with its evidence, never hidden."""
    for probe in observations.probes:
        if probe.works or probe.command in explained or probe.failure == "not-applicable":
            continue
        yield Finding(
            code="data-probe-failed",
            severity=_unless_passive(observations),
            title=f"{probe.command} fails",
            evidence=(f"{probe.command}: {probe.error or probe.failure}",),
            fix="See the dialogue (-v) and the server's log for this step.",
            modes=(probe.command,),
        )


def no_mode_works(observations: Observations) -> Iterable[Finding]:
    """Not a single data-channel mode worked: listings and transfers will fail."""
    if not observations.probes or observations.any_mode_works:
        return
    yield Finding(
        code="no-data-mode-works",
        severity="error",
        title="no data-channel mode works: every listing and transfer will fail",
        evidence=tuple(
            f"{probe.command}: {probe_outcome(probe)}"
            for command in DATA_COMMANDS
            if (probe := observations.probe(command)) is not None
        ),
        fix=(
            "Fix passive mode first (see the findings above): it is the mode every client "
            "tries first, and it needs changes on the server's side only."
        ),
        modes=DATA_COMMANDS,
    )
