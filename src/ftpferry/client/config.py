"""Client settings: one immutable value passed in, never class attributes.

:class:`ClientConfig` holds every knob of a client; :class:`ClientOptions`
is the same set as keyword arguments (``AsyncFTPClient(mode="active")``),
checked by the type checker.  Invalid values fail at construction with a
ValueError that names the setting.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypedDict

__all__ = ["ClientConfig", "ClientOptions", "Mode", "parse_port_range"]

Mode = Literal["auto", "passive", "active"]
"""Data-channel mode: ``auto`` tries passive and falls back to active."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Every setting of a client.

    Attributes:
        mode: ``auto`` (default) tries passive first and, when the data
            connection cannot be made, retries the operation in active mode
            and remembers per server what worked; ``passive`` or ``active``
            use only that mode.
        use_epsv: try EPSV before PASV (PASV still follows a refused EPSV).
        use_eprt: try EPRT before PORT (PORT still follows a refused EPRT).
        pipeline: once EPSV has worked on a connection, send it together
            with the transfer command (one round trip less per file); off
            for servers that drop commands sent before the previous reply.
        block_mode: ask for ``MODE B`` before the first transfer and, when
            the server agrees, keep one data connection open for all the
            transfers of the session (RFC 959 3.3): no EPSV, connect and
            close per file, which is what a mirror of many small files
            spends its time on.  Refused, the session stays in stream mode;
            accepted but not done (stream data after all), the first
            transfer shows it and is run again in stream mode.  Bytes are
            framed in 64 KiB blocks, so a single large file is faster
            without it.
        active_address: the address to advertise in EPRT/PORT (behind NAT:
            the public one); default: the control connection's local address.
        active_ports: (low, high) ports to listen on in active mode; default:
            any free port.
        trust_pasv_address: connect to the address a PASV reply names even
            when it is a private/unroutable address other than the server's;
            off by default, as in curl, because that address is nearly
            always a server behind NAT announcing its inside address.
        remember_mode: in ``auto`` mode, share what worked per (host, port)
            with every client in this process.
        connect_timeout: seconds to connect the control and data connections.
        timeout: seconds to wait for each reply.
        data_timeout: seconds without data progress before a transfer fails,
            and to wait for the server to connect in active mode.
        keepalive: seconds between NOOPs on the control connection during
            a transfer (0 disables), so NAT boxes do not drop it.
        tls: explicit FTPS: AUTH TLS, then PBSZ 0 and PROT P.
        implicit_tls: implicit FTPS: TLS from the first byte (port 990).
        verify: verify the server certificate and host name.
        cafile: PEM file of CA certificates to verify against.
        ssl_context: a complete context to use instead (overrides verify/cafile).
        encoding: of paths and replies on the control connection.
        list_options: inserted after ``LIST`` (e.g. ``-a``: vsftpd hides dot
            files otherwise); MLSD, when offered, lists everything anyway.
        max_listing_bytes: a listing (MLSD, LIST, NLST) larger than this is
            refused with :class:`ListingTooLarge`: a broken or hostile
            server could otherwise send one without end into memory.  The
            default, 256 MiB, holds some two million entries.
        netrc_file: the netrc file to read passwords from (default ~/.netrc).
        use_netrc: look passwords up in the netrc file at all.
        ask_password: call ``password_prompt`` when no password is found.
        password_prompt: asks for a password (default :func:`getpass.getpass`).
    """

    mode: Mode = "auto"
    use_epsv: bool = True
    use_eprt: bool = True
    pipeline: bool = True
    block_mode: bool = False
    active_address: str | None = None
    active_ports: tuple[int, int] | None = None
    trust_pasv_address: bool = False
    remember_mode: bool = True
    connect_timeout: float = 15.0
    timeout: float = 60.0
    data_timeout: float = 30.0
    keepalive: float = 60.0
    tls: bool = False
    implicit_tls: bool = False
    verify: bool = True
    cafile: str | None = None
    ssl_context: ssl.SSLContext | None = None
    encoding: str = "utf-8"
    list_options: str = ""
    max_listing_bytes: int = 256 * 1024 * 1024
    netrc_file: str | None = None
    use_netrc: bool = True
    ask_password: bool = False
    password_prompt: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        if self.mode not in {"auto", "passive", "active"}:
            raise ValueError(f"mode {self.mode!r} is not auto, passive or active")
        if self.active_ports is not None:
            low, high = self.active_ports
            if not 1024 <= low <= high <= 65535:
                raise ValueError(f"active_ports {low}-{high} is not a range within 1024-65535")
        if self.active_address is not None:
            try:
                ipaddress.ip_address(self.active_address)
            except ValueError as exc:
                raise ValueError(f"active_address {self.active_address!r} is not an IP") from exc
        for name in ("connect_timeout", "timeout", "data_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.keepalive < 0:
            raise ValueError("keepalive must be 0 (off) or positive")
        if self.max_listing_bytes < 1:
            raise ValueError("max_listing_bytes must be positive")
        if "\r" in self.list_options or "\n" in self.list_options:
            raise ValueError("list_options must not contain line ends")
        "".encode(self.encoding)  # LookupError for an unknown codec, now rather than later

    def tls_context(self) -> ssl.SSLContext:
        """The context for control and data connections (shared: session reuse)."""
        if self.ssl_context is not None:
            return self.ssl_context
        context = ssl.create_default_context(cafile=self.cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class ClientOptions(TypedDict, total=False):
    """:class:`ClientConfig`'s fields as keyword arguments (all optional)."""

    mode: Mode
    use_epsv: bool
    use_eprt: bool
    pipeline: bool
    block_mode: bool
    active_address: str | None
    active_ports: tuple[int, int] | None
    trust_pasv_address: bool
    remember_mode: bool
    connect_timeout: float
    timeout: float
    data_timeout: float
    keepalive: float
    tls: bool
    implicit_tls: bool
    verify: bool
    cafile: str | None
    ssl_context: ssl.SSLContext | None
    encoding: str
    list_options: str
    max_listing_bytes: int
    netrc_file: str | None
    use_netrc: bool
    ask_password: bool
    password_prompt: Callable[[str], str] | None


def parse_port_range(text: str) -> tuple[int, int]:
    """``"40000-40100"`` -> ``(40000, 40100)``; ValueError when malformed."""
    low, dash, high = text.partition("-")
    if not dash or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError(f"{text!r} is not a port range LO-HI")
    return int(low), int(high)
