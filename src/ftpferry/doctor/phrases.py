"""Observations in words: one phrasing shared by the findings and the report.

The evidence under a finding and the details column of the table describe
the same events; writing them in one place keeps the two from telling a
reader different stories about one probe.
"""

from __future__ import annotations

from .addresses import same_address
from .observations import ConnectInfo, DataProbe, ReplyInfo

__all__ = ["connect_text", "probe_details", "probe_outcome", "reply_text"]


def reply_text(reply: ReplyInfo | None) -> str:
    """``227 Entering Passive Mode (...)`` (multi-line replies joined), or ``no reply``."""
    return reply.line() if reply is not None else "no reply"


def connect_text(attempt: ConnectInfo) -> str:
    """``connect to 10.0.0.5 port 30001: timed out after 5.0 s``."""
    where = f"{attempt.host} port {attempt.port}"
    if attempt.outcome == "ok":
        return f"connected to {where} in {attempt.seconds:.2f} s"
    return f"connect to {where}: {attempt.error or attempt.outcome} after {attempt.seconds:.1f} s"


def probe_outcome(probe: DataProbe) -> str:
    """``works (LIST in 0.02 s)`` or ``fails: <the failure>``."""
    if probe.ok:
        return f"works (LIST in {probe.seconds:.2f} s)"
    return f"fails: {probe.error or probe.failure}"


def probe_details(probe: DataProbe, peer_address: str) -> str:
    """What happened in one probe, step by step, for the table's details column.

    Replies are quoted in full only where something went wrong; a
    successful step is one short phrase.
    """
    parts: list[str] = []
    setup = probe.setup_reply
    if probe.command == "PASV" and probe.advertised_host is not None:
        named = f"227 names {probe.advertised_host} port {probe.advertised_port}"
        if same_address(probe.advertised_host, peer_address):
            parts.append(f"{named} (the control address)")
        else:
            parts.append(f"{named}, but the control address is {peer_address}")
    elif probe.command == "EPSV" and probe.advertised_port is not None:
        parts.append(f"229 port {probe.advertised_port}")
    elif probe.command in {"PORT", "EPRT"} and probe.advertised_host is not None:
        accepted = f": {setup.code}" if setup is not None and setup.code // 100 == 2 else ""
        parts.append(f"named {probe.advertised_host} port {probe.advertised_port}{accepted}")
    if setup is not None and setup.code // 100 != 2:
        parts.append(reply_text(setup))
    if probe.connect is not None:
        attempt = probe.connect
        if attempt.outcome == "ok":
            parts.append(f"connected in {attempt.seconds:.2f} s")
        else:
            parts.append(connect_text(attempt))
    if probe.arrived is True:
        parts.append(f"the server connected from {probe.arrived_from}")
    elif probe.arrived is False:
        parts.append("the server's connection never arrived")
    if probe.transfer_reply is not None and probe.transfer_reply.code // 100 != 1:
        parts.append(f"LIST: {reply_text(probe.transfer_reply)}")
    if probe.tls_session_reused is not None:
        parts.append("TLS session resumed" if probe.tls_session_reused else "TLS not resumed")
    final = probe.final_reply
    if probe.ok and final is not None:
        parts.append(f"{final.code}, {probe.bytes_received} bytes listed")
    elif final is not None:
        parts.append(reply_text(final))
    if not probe.ok and probe.failure in {
        "reply-timeout",
        "control-lost",
        "tls-handshake",
        "not-applicable",
    }:
        parts.append(probe.error)
    if probe.via_control_address is not None:
        again = probe.via_control_address
        parts.append(f"at the control address {peer_address} instead: {probe_outcome(again)}")
    return "; ".join(part for part in parts if part)
