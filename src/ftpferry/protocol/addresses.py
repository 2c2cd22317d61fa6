"""Codecs for the data-channel address arguments and replies.

* ``PORT h1,h2,h3,h4,p1,p2`` and the ``227`` reply to PASV (RFC 959);
* ``EPRT |af|addr|port|`` and the ``229`` reply to EPSV ``(|||port|)`` (RFC 2428).

Parsing is strict: anything malformed raises :class:`AddressSyntaxError`,
which the session turns into ``501``.  Which addresses are *allowed* (bounce
protection) is policy and lives in the server, not here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "AddressSyntaxError",
    "HostPort",
    "UnsupportedNetworkProtocol",
    "format_epsv_reply",
    "format_pasv_reply",
    "format_port",
    "format_eprt",
    "parse_eprt",
    "parse_epsv_reply",
    "parse_pasv_reply",
    "parse_port",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# re.ASCII: without it \d also matches other scripts' digits, such as "١٢٧".
_PORT_FIELD: Final = re.compile(r"\s*(\d{1,3})\s*", re.ASCII)
_PASV_REPLY: Final = re.compile(
    r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})", re.ASCII
)
_EPSV_REPLY: Final = re.compile(r"\((.)\1\1(\d{1,5})\1\)", re.ASCII)


class AddressSyntaxError(ValueError):
    """A PORT/EPRT argument or PASV/EPSV reply that does not parse."""


class UnsupportedNetworkProtocol(ValueError):
    """EPRT/EPSV named an address family we do not speak (answer ``522``)."""


@dataclass(frozen=True, slots=True)
class HostPort:
    """An IP address and TCP port named by a data-channel command."""

    host: IPAddress
    port: int

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range")


def parse_port(argument: str) -> HostPort:
    """Parse the argument of PORT: six comma-separated decimal bytes."""
    fields = argument.split(",")
    if len(fields) != 6:
        raise AddressSyntaxError("PORT needs six comma-separated numbers h1,h2,h3,h4,p1,p2")
    numbers: list[int] = []
    for raw in fields:
        match = _PORT_FIELD.fullmatch(raw)
        if match is None or int(match.group(1)) > 255:
            raise AddressSyntaxError(f"PORT field {raw.strip()[:20]!r} is not a number 0-255")
        numbers.append(int(match.group(1)))
    host = ipaddress.IPv4Address(bytes(numbers[:4]))
    return HostPort(host, numbers[4] * 256 + numbers[5])


def format_port(address: HostPort) -> str:
    """The PORT argument for an IPv4 address and port."""
    if not isinstance(address.host, ipaddress.IPv4Address):
        raise UnsupportedNetworkProtocol("PORT carries only IPv4 addresses")
    octets = str(address.host).replace(".", ",")
    return f"{octets},{address.port >> 8},{address.port & 0xFF}"


def format_pasv_reply(address: HostPort) -> str:
    """The text of a 227 reply: ``Entering Passive Mode (h1,h2,h3,h4,p1,p2).``"""
    return f"Entering Passive Mode ({format_port(address)})."


def parse_pasv_reply(text: str) -> HostPort:
    """Find the six numbers in a 227 reply, wherever the server put them."""
    match = _PASV_REPLY.search(text)
    if match is None:
        raise AddressSyntaxError(f"no h1,h2,h3,h4,p1,p2 in PASV reply {text[:80]!r}")
    numbers = [int(group) for group in match.groups()]
    if any(number > 255 for number in numbers):
        raise AddressSyntaxError(f"PASV reply field over 255 in {text[:80]!r}")
    host = ipaddress.IPv4Address(bytes(numbers[:4]))
    return HostPort(host, numbers[4] * 256 + numbers[5])


def parse_eprt(argument: str) -> HostPort:
    """Parse ``|af|addr|port|`` where the delimiter is any printable ASCII char."""
    if len(argument) < 7:
        raise AddressSyntaxError("EPRT needs <d>af<d>addr<d>port<d>")
    delimiter = argument[0]
    if not (33 <= ord(delimiter) <= 126) or delimiter.isdigit():
        raise AddressSyntaxError("EPRT delimiter must be printable ASCII other than a digit")
    parts = argument.split(delimiter)
    if len(parts) != 5 or parts[0] or parts[4]:
        raise AddressSyntaxError("EPRT needs exactly <d>af<d>addr<d>port<d>")
    family, host_text, port_text = parts[1], parts[2], parts[3]
    if family not in {"1", "2"}:
        raise UnsupportedNetworkProtocol(f"EPRT network protocol {family[:10]!r} is unknown")
    # isascii(): str.isdigit() is also true for "²", which int() then rejects.
    if (
        not (port_text.isascii() and port_text.isdigit())
        or len(port_text) > 5
        or not 0 < int(port_text) <= 65535
    ):
        raise AddressSyntaxError(f"EPRT port {port_text[:10]!r} is not 1-65535")
    try:
        host = ipaddress.ip_address(host_text)
    except ValueError as exc:
        raise AddressSyntaxError(f"EPRT address {host_text[:60]!r} is not an IP address") from exc
    if (family == "1") != (host.version == 4):
        raise AddressSyntaxError(f"EPRT address {host_text[:60]!r} is not of family {family}")
    return HostPort(host, int(port_text))


def format_eprt(address: HostPort) -> str:
    """The EPRT argument for an address and port."""
    family = 1 if address.host.version == 4 else 2
    return f"|{family}|{address.host}|{address.port}|"


def format_epsv_reply(port: int) -> str:
    """The text of a 229 reply."""
    return f"Entering Extended Passive Mode (|||{port}|)"


def parse_epsv_reply(text: str) -> int:
    """Return the port from a 229 reply ``(|||port|)``."""
    match = _EPSV_REPLY.search(text)
    if match is None:
        raise AddressSyntaxError(f"no (|||port|) in EPSV reply {text[:80]!r}")
    port = int(match.group(2))
    if not 0 < port <= 65535:
        raise AddressSyntaxError(f"EPSV reply port {port} is out of range")
    return port
