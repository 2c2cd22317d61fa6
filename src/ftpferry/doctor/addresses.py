"""Two facts about IP addresses that the prober and the rules both need.

Kept apart from :mod:`ftpferry.server.addressing` on purpose: importing
anything under ``ftpferry.server`` loads the whole server and its pydantic
configuration, which a diagnostic client should not pay for.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_unroutable", "same_address"]


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def same_address(left: str | None, right: str | None) -> bool:
    """Equal addresses, seeing through IPv4-mapped IPv6 (``::ffff:1.2.3.4``)."""
    if left is None or right is None:
        return False
    a, b = _parse(left), _parse(right)
    if a is None or b is None:
        return left == right
    return a == b


def is_unroutable(address: str) -> bool:
    """True for an address a client elsewhere on the internet cannot reach
    (private, loopback, link-local, shared, reserved, unspecified)."""
    parsed = _parse(address)
    return parsed is not None and (not parsed.is_global or parsed.is_unspecified)
