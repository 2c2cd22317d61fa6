"""What worked where: the process-wide memory of data-channel modes, and
the rule for distrusting PASV addresses.

``auto`` mode tries passive first and falls back to active when the data
connection cannot be made.  Repeating the failed attempt for every transfer
would cost a time-out each time, so the mode that worked is remembered per
(host, port) for the life of the process, shared by every client, sync or
async, in any thread.

Commands sent ahead (EPSV with the transfer command, see
:mod:`.datachannel`) are remembered the same way when they fail: a server
or a strict firewall that drops such a connection is sent one command at a
time from then on, by every client in the process.

A PASV reply names an IPv4 address, and a server behind NAT names its
*inside* address (``10.0.0.5``, ``172.17.0.2``), which the client cannot
reach.  Like curl (``--ftp-skip-pasv-ip``, the default since 7.74), the
client then connects to the address it already reaches the server at.  It
does so only when the announced address is not globally routable and
differs from the control connection's peer, so a server that deliberately
names another public address for its data connections still works.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Final, Literal

__all__ = [
    "ConcreteMode",
    "forget_modes",
    "pasv_connect_host",
    "pipelining_refused",
    "refuse_pipelining",
    "remember_mode",
    "remembered_mode",
]

ConcreteMode = Literal["passive", "active"]

_lock: Final = threading.Lock()
_memory: dict[tuple[str, int], ConcreteMode] = {}
_no_pipelining: set[tuple[str, int]] = set()


def remembered_mode(host: str, port: int) -> ConcreteMode | None:
    """The mode that last worked for this server in ``auto`` mode, if any."""
    with _lock:
        return _memory.get((host.lower(), port))


def remember_mode(host: str, port: int, mode: ConcreteMode) -> ConcreteMode | None:
    """Record what worked; returns what was remembered before."""
    with _lock:
        previous = _memory.get((host.lower(), port))
        _memory[(host.lower(), port)] = mode
        return previous


def pipelining_refused(host: str, port: int) -> bool:
    """True once commands sent ahead have failed with this server."""
    with _lock:
        return (host.lower(), port) in _no_pipelining


def refuse_pipelining(host: str, port: int) -> None:
    """Send this server one command at a time from now on."""
    with _lock:
        _no_pipelining.add((host.lower(), port))


def forget_modes() -> None:
    """Forget every server's mode and pipelining verdict (a fresh start; tests)."""
    with _lock:
        _memory.clear()
        _no_pipelining.clear()


def _unwrap(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def pasv_connect_host(announced: str, control_peer: str, *, trust: bool) -> tuple[str, str | None]:
    """Where to connect after a PASV reply: ``(host, reason it is not the announced one)``.

    The reason is None when the announced address is used as it is.
    """
    if trust:
        return announced, None
    named, peer = _unwrap(announced), _unwrap(control_peer)
    if named is None or peer is None or named == peer:
        return announced, None
    if named.is_unspecified or not named.is_global:
        reason = (
            f"PASV named {announced}, a non-routable address other than the server's "
            f"{control_peer}; connecting to {control_peer} instead"
        )
        return str(peer), reason
    return announced, None
