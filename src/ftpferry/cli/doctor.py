"""``ftpferry doctor URL``: the command-line face of :mod:`ftpferry.doctor`.

:data:`ftpferry.cli.COMMAND_HOMES` names it, and the group imports this
module only when it runs.  Exit codes: 0 when at least one data-channel mode
works, 1 when none does (or the session could not be opened), 2 for
usage errors (click's convention).
"""

from __future__ import annotations

import ipaddress
import sys

import click

from ftpferry.client.urls import parse_url
from ftpferry.printable import printable

# ftpferry.doctor (rich, cryptography for certificate details) is imported
# inside the command, so that other commands do not pay for loading it.

__all__ = ["doctor"]


def _ip_address(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an IP address") from exc


@click.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (stable keys).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=600),
    default=5.0,
    show_default=True,
    help="Seconds each step and each data-channel probe may take.",
)
@click.option(
    "--active-address",
    callback=_ip_address,
    default=None,
    metavar="ADDR",
    help="Address PORT/EPRT advertise (default: this machine's address towards the server).",
)
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.option(
    "--cafile",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="PEM file of CA certificates to trust (for ftps://).",
)
@click.option(
    "--implicit-tls",
    is_flag=True,
    help="Implicit FTPS: TLS from the first byte, on any port (default 990).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show the FTP dialogue (on stderr).")
def doctor(
    url: str,
    as_json: bool,
    timeout: float,
    active_address: str | None,
    insecure: bool,
    cafile: str | None,
    implicit_tls: bool,
    verbose: bool,
) -> None:
    """Check an FTP/FTPS server's data channel and say what to fix.

    Connects to URL (ftp://user@host:port/path, or ftps://... for explicit
    FTPS, implicit on port 990 or with --implicit-tls), logs in
    (password from the URL, FTPFERRY_PASSWORD or ~/.netrc), lists PATH once
    over each of PASV, EPSV, PORT and EPRT, and explains every failure:
    NAT and masquerade addresses, passive ranges that are not forwarded,
    firewalls that block active mode, TLS certificates and session reuse.

    Exit status: 0 when at least one data-channel mode works, 1 otherwise.
    """
    from rich.console import Console  # noqa: PLC0415 - see the module note

    from ftpferry.doctor import (  # noqa: PLC0415
        DoctorOptions,
        Report,
        dumps,
        render_rich,
        render_text,
        run_doctor,
    )

    try:
        # Read the URL as the client commands do (see cli.client_commands).
        target = parse_url(url, implicit_tls=implicit_tls or None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc
    options = DoctorOptions(
        timeout=timeout, active_address=active_address, verify=not insecure, cafile=cafile
    )
    sink = (lambda line: click.echo(printable(line), err=True)) if verbose else None
    report = Report.of(run_doctor(target, options, sink=sink))
    if as_json:
        click.echo(dumps(report), nl=False)
    elif sys.stdout.isatty():
        render_rich(report, Console(highlight=False))
    else:
        click.echo(printable(render_text(report)), nl=False)
    sys.exit(report.exit_code)
