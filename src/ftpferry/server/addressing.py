"""Which address a PASV reply advertises, chosen by the client's network.

A PASV reply names an IPv4 address, and the right one depends on where the
client sits: a LAN client must get the server's LAN address, a client on
the internet the public one (split horizon, NAT hairpin).  The
:class:`PassiveAddressPlan` holds the configured ``network -> address``
map, the masquerade address for everyone else, and falls back to the
control connection's own local address.  The most specific network wins.

Addresses may be host names: dynamic-DNS setups change the public address
without warning, so names are re-resolved on a schedule
(:meth:`PassiveAddressPlan.refresh`) and the last good answer is kept when a
lookup fails.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass

__all__ = ["AddressSource", "PassiveAddressPlan", "is_public", "parse_network"]

log = logging.getLogger("ftpferry.server")

IPv4 = ipaddress.IPv4Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_network(text: str) -> Network:
    """A CIDR network (``192.168.1.0/24``); a bare address means that one host."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a network such as 192.168.1.0/24") from exc


def is_public(address: IPAddress) -> bool:
    """True for an address a client on the internet could reach."""
    return address.is_global


@dataclass(slots=True)
class AddressSource:
    """An advertised address as configured (IP or host name) and its current value."""

    spec: str
    current: IPv4 | None = None

    @property
    def is_name(self) -> bool:
        """True when ``spec`` is a host name, which needs resolving."""
        try:
            ipaddress.ip_address(self.spec)
        except ValueError:
            return True
        return False

    def resolve_now(self) -> IPv4:
        """Resolve synchronously (start-up: a name that does not resolve is an error)."""
        self.current = _resolve_ipv4(self.spec)
        return self.current

    async def refresh(self) -> None:
        """Re-resolve a host name; keep the previous address if the lookup fails."""
        if not self.is_name:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.spec, None, family=socket.AF_INET)
        except OSError as exc:
            log.warning("cannot re-resolve %s (keeping %s): %s", self.spec, self.current, exc)
            return
        address = IPv4(infos[0][4][0])
        if address != self.current:
            log.info(
                "passive address %s now resolves to %s (was %s)", self.spec, address, self.current
            )
            self.current = address


def _resolve_ipv4(spec: str) -> IPv4:
    try:
        address = ipaddress.ip_address(spec)
    except ValueError:
        try:
            infos = socket.getaddrinfo(spec, None, socket.AF_INET, socket.SOCK_STREAM)
        except OSError as exc:
            raise ValueError(f"{spec!r} does not resolve to an IPv4 address: {exc}") from exc
        return IPv4(infos[0][4][0])
    if not isinstance(address, IPv4):
        raise ValueError(f"{spec!r} is not IPv4 (a PASV reply carries only IPv4)")
    return address


class PassiveAddressPlan:
    """Chooses the address a PASV reply advertises to a given client."""

    __slots__ = ("_by_network", "masquerade")

    def __init__(self, mapping: dict[str, str], masquerade: str | None) -> None:
        entries = [
            (parse_network(network), AddressSource(spec)) for network, spec in mapping.items()
        ]
        # Most specific first, so 192.168.1.0/24 wins over 0.0.0.0/0.
        entries.sort(key=lambda item: item[0].prefixlen, reverse=True)
        self._by_network = entries
        self.masquerade = AddressSource(masquerade) if masquerade else None
        for network, source in self._by_network:
            try:
                source.resolve_now()
            except ValueError as exc:
                raise ValueError(f"passive-address {network}={source.spec}: {exc}") from exc
        if self.masquerade is not None:
            try:
                self.masquerade.resolve_now()
            except ValueError as exc:
                raise ValueError(f"masquerade-address {exc}") from exc

    def sources(self) -> list[AddressSource]:
        """Every configured address, for refreshing and for ``serve --check``."""
        found = [source for _, source in self._by_network]
        if self.masquerade is not None:
            found.append(self.masquerade)
        return found

    @property
    def has_names(self) -> bool:
        """True when some address is a host name that needs re-resolving."""
        return any(source.is_name for source in self.sources())

    def choose(self, client: IPAddress, local: IPv4) -> tuple[IPv4, str]:
        """The address for ``client`` and why (for the log and ``--check``)."""
        for network, source in self._by_network:
            if client.version == network.version and client in network and source.current:
                return source.current, f"passive-address {network}"
        if self.masquerade is not None and self.masquerade.current is not None:
            return self.masquerade.current, "masquerade-address"
        return local, "control connection's local address"

    def describe(self) -> list[tuple[str, str]]:
        """(network, advertised address) rows for ``serve --check``."""
        rows = [(str(network), _show(source)) for network, source in self._by_network]
        if self.masquerade is not None:
            rows.append(("everyone else", _show(self.masquerade)))
        else:
            rows.append(("everyone else", "the address the client connected to"))
        return rows

    async def refresh(self) -> None:
        """Re-resolve every host name once."""
        for source in self.sources():
            await source.refresh()


def _show(source: AddressSource) -> str:
    if source.is_name:
        return f"{source.current} ({source.spec})"
    return str(source.current)
