"""``ftpferry serve`` and ``ftpferry hash-password``.

The server's option names are a contract (other tools start it this way),
so they are spelled exactly as documented in the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftpferry import __version__

if TYPE_CHECKING:
    from ftpferry.server import FtpServer, ServerConfig

# The server's modules (pydantic, argon2, cryptography) are imported inside
# the commands: every client command (`ftpferry get ...`) loads this module
# too, and should not pay a fifth of a second for a server it does not run.

__all__ = ["hash_password_command", "serve"]

DEFAULT_USER = "ftpferry"


def _parse_user(text: str) -> dict[str, str]:
    name, colon, password = text.partition(":")
    if not colon or not name:
        raise click.BadParameter(f"{text!r} is not NAME:PASS", param_hint="--user")
    return {"name": name, "password": password}


def _parse_passive_address(text: str) -> tuple[str, str]:
    network, equals, address = text.partition("=")
    if not equals or not network or not address:
        raise click.BadParameter(f"{text!r} is not CIDR=ADDR", param_hint="--passive-address")
    return network.strip(), address.strip()


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    # The format above names neither process nor thread: without these, a log
    # record skips the getpid system call and the thread lookups it would make
    # for them (one record per transfer, so per request of a busy server).
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Control port (default 2121).")
@click.option("--root", type=click.Path(path_type=Path), default=None, help="Directory to serve.")
@click.option("--user", "users", multiple=True, help="NAME:PASS, repeatable.")
@click.option("--passive-ports", default=None, help="Passive port range LO-HI (30000-30099).")
@click.option("--masquerade-address", default=None, help="Address PASV advertises (IP or name).")
@click.option(
    "--passive-address",
    "passive_addresses",
    multiple=True,
    help="CIDR=ADDR: advertise ADDR in PASV to clients from CIDR (repeatable).",
)
@click.option(
    "--active-source",
    type=click.Choice(["auto", "control-minus-one", "ephemeral"]),
    default=None,
    help="Source port of active-mode connections (auto: control port - 1 when possible).",
)
@click.option("--tls-cert", type=click.Path(path_type=Path), default=None, help="PEM certificate.")
@click.option("--tls-key", type=click.Path(path_type=Path), default=None, help="PEM private key.")
@click.option(
    "--tls-self-signed",
    is_flag=True,
    default=None,
    help="Generate a development certificate next to the root and enable FTPS.",
)
@click.option(
    "--tls-implicit-port", type=int, default=None, help="Also serve implicit FTPS on this port."
)
@click.option(
    "--require-tls",
    is_flag=True,
    default=None,
    help="Refuse logins and data connections without TLS (AUTH TLS, PROT P).",
)
@click.option(
    "--tls-require-session-reuse",
    is_flag=True,
    default=None,
    help="Data connections must resume the control connection's TLS session.",
)
@click.option("--run-as", default=None, help="Drop root to this user after binding ports.")
@click.option("--umask", default=None, help="Octal umask for created files (022).")
@click.option("--check", is_flag=True, help="Print the data-channel plan and exit.")
@click.option("--anonymous", is_flag=True, default=None, help="Allow anonymous read-only login.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None)
@click.option(
    "--idle-timeout", type=float, default=None, help="Seconds before an idle session closes."
)
@click.option(
    "--data-timeout", type=float, default=None, help="Seconds to wait for a data connection."
)
@click.option("--max-connections", type=int, default=None, help="Sessions in total (10000).")
@click.option(
    "--max-connections-per-ip", type=int, default=None, help="Sessions per client address (256)."
)
@click.option("-v", "--verbose", is_flag=True, default=None, help="Log every command and reply.")
def serve(
    host: str | None,
    port: int | None,
    root: Path | None,
    users: tuple[str, ...],
    passive_ports: str | None,
    masquerade_address: str | None,
    passive_addresses: tuple[str, ...],
    active_source: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_self_signed: bool | None,
    tls_implicit_port: int | None,
    require_tls: bool | None,
    tls_require_session_reuse: bool | None,
    run_as: str | None,
    umask: str | None,
    check: bool,
    anonymous: bool | None,
    config_file: Path | None,
    idle_timeout: float | None,
    data_timeout: float | None,
    max_connections: int | None,
    max_connections_per_ip: int | None,
    verbose: bool | None,
) -> None:
    """Run the FTP server until SIGINT or SIGTERM."""
    from ftpferry.server import ConfigError, load_config  # noqa: PLC0415 - see module note
    from ftpferry.server.config import UserConfig  # noqa: PLC0415
    from ftpferry.server.plan import data_channel_plan, startup_warnings  # noqa: PLC0415

    limits = {
        key: value
        for key, value in {
            "idle_timeout": idle_timeout,
            "data_timeout": data_timeout,
            "max_connections": max_connections,
            "max_connections_per_ip": max_connections_per_ip,
        }.items()
        if value is not None
    }
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "root": root,
        "users": [_parse_user(text) for text in users],
        "passive_ports": passive_ports,
        "masquerade_address": masquerade_address,
        "passive_address_map": dict(_parse_passive_address(text) for text in passive_addresses),
        "active_source": active_source,
        "run_as": run_as,
        "umask": umask,
        "anonymous": anonymous,
        "verbose": verbose,
        "limits": limits,
        "tls": {
            key: value
            for key, value in {
                "cert": tls_cert,
                "key": tls_key,
                "self_signed": tls_self_signed,
                "implicit_port": tls_implicit_port,
                "require_control": require_tls,
                "require_data": require_tls,
                "require_session_reuse": tls_require_session_reuse,
            }.items()
            if value is not None
        },
    }
    try:
        config = load_config(config_file, overrides)
    except ConfigError as exc:
        click.echo(f"ftpferry: {exc}", err=True)
        sys.exit(2)
    generated: str | None = None
    if not config.users and not config.anonymous:
        generated = secrets.token_urlsafe(12)
        account = UserConfig(name=DEFAULT_USER, password=generated)
        config = config.model_copy(update={"users": (account,)})
    if check:
        click.echo("\n".join(data_channel_plan(config, config.port)))
        return
    _configure_logging(bool(config.verbose))
    for warning in startup_warnings(config):
        logging.getLogger("ftpferry.server").warning(warning)
    try:
        asyncio.run(_serve(config, generated))
    except (ValueError, PermissionError) as exc:
        click.echo(f"ftpferry: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(
            f"ftpferry: cannot listen on {config.host} port {config.port}: {exc.strerror}", err=True
        )
        sys.exit(1)


def _print_banner(server: FtpServer, config: ServerConfig, generated: str | None) -> None:
    from ftpferry.server.tls import certificate_fingerprint  # noqa: PLC0415 - see module note

    host = config.host
    url_host = f"[{host}]" if ":" in host else host
    port = server.port
    lines = [
        f"ftpferry {__version__} serving {config.root.resolve()} on ftp://{url_host}:{port}/",
        f"  passive ports {config.passive_ports}; "
        + "; ".join(f"PASV to {who}: {address}" for who, address in server.addresses.describe()),
    ]
    if server.tls_certificate is not None:
        lines.append(
            "  FTPS: AUTH TLS on this port"
            + (f", implicit TLS on port {server.implicit_port}" if server.implicit_port else "")
            + f"; certificate {server.tls_certificate}"
        )
        lines.append(f"  SHA-256 fingerprint {certificate_fingerprint(server.tls_certificate)}")
    if generated is not None:
        lines += [
            f"  user: {DEFAULT_USER}  password: {generated}  (generated; use --user NAME:PASS)",
            f"  try:  curl ftp://{DEFAULT_USER}:{generated}@{url_host}:{port}/",
            f"        lftp -u {DEFAULT_USER},{generated} -p {port} {host}",
        ]
    lines.append("Press Ctrl+C to stop.")
    click.echo("\n".join(lines))
    sys.stdout.flush()


async def _serve(config: ServerConfig, generated: str | None) -> None:
    from ftpferry.server import FtpServer  # noqa: PLC0415 - see module note

    server = FtpServer(config)
    await server.start()
    _print_banner(server, config, generated)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logging.getLogger("ftpferry.server").info("shutting down")
    await server.close()


@click.command("hash-password")
@click.option("--password", default=None, help="Hash this instead of prompting.")
def hash_password_command(password: str | None) -> None:
    """Print an argon2 hash for a user's password_hash in the config file."""
    from ftpferry.server import hash_password  # noqa: PLC0415 - see module note

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    click.echo(hash_password(password))
