"""The data-channel plan: what ``serve --check`` prints and start-up warns about.

Most FTP failures are decided by configuration before the first client
connects: a PASV address nobody outside can reach, a passive range that the
firewall does not forward, an active-mode source port the process cannot
bind.  These functions state the effective plan in plain words so an
administrator can compare it with the router and firewall rules.
"""

from __future__ import annotations

import ipaddress
import socket

from .addressing import PassiveAddressPlan
from .config import ServerConfig

__all__ = ["active_source_status", "data_channel_plan", "startup_warnings"]

WILDCARDS = frozenset({"0.0.0.0", "::"})


def active_source_status(config: ServerConfig, port: int) -> str:
    """Whether active-mode connections can come from port L-1, in words."""
    if config.active_source == "ephemeral":
        return "from ephemeral ports (active_source = ephemeral)"
    source = port - 1
    if source < 1:
        return "from ephemeral ports (no control port - 1)"
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((config.host, source))
    except OSError as exc:
        if config.active_source == "control-minus-one":
            return (
                f"from port {source} REQUIRED but it cannot be bound ({exc.strerror}):"
                " PORT/EPRT will fail"
            )
        return f"from ephemeral ports: port {source} cannot be bound ({exc.strerror})"
    return f"from port {source} (control port - 1)"


def startup_warnings(config: ServerConfig) -> list[str]:
    """Warn when PASV will advertise an address clients elsewhere cannot reach."""
    if config.masquerade_address or config.passive_address_map:
        return []
    host = config.host
    if host in WILDCARDS:
        where = f"on every interface ({host})"
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return []
        if address.is_loopback or address.is_global:
            return []
        where = f"on the private address {host}"
    return [
        f"listening {where} with no masquerade address: PASV replies will advertise "
        "the server's own (private) address, which clients outside this network "
        "cannot reach; EPSV clients are unaffected. Behind NAT, a container or a "
        "cloud VM, set --masquerade-address PUBLIC_IP (or --passive-address CIDR=ADDR "
        "per client network) and forward the passive range."
    ]


def data_channel_plan(config: ServerConfig, port: int) -> list[str]:
    """The effective data-channel plan, one fact per line."""
    addresses = PassiveAddressPlan(config.passive_address_map, config.masquerade_address)
    lines = [
        f"control:        listening on {config.host} port {port}",
        f"passive range:  {config.passive_ports} ({len(config.passive_ports)} ports);"
        " open and forward all of them",
        "PASV advertises:",
    ]
    width = max(len(network) for network, _ in addresses.describe())
    for network, advertised in addresses.describe():
        lines.append(f"  {network:<{width}}  -> {advertised}")
    if addresses.has_names:
        lines.append(f"  host names are re-resolved every {config.resolve_interval:g}s")
    lines += [
        "EPSV:           advertises only the port; clients reuse the control address",
        f"active mode:    {active_source_status(config, port)}",
        "anti-theft:     "
        + (
            "data connections from/to any address (permit_foreign_addresses)"
            if config.permit_foreign_addresses
            else "data connections only from/to the control connection's address"
        ),
    ]
    lines += [f"warning: {text}" for text in startup_warnings(config)]
    return lines
