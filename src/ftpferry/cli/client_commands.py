"""Client commands: ``ls``, ``get``, ``put``, ``mirror``, ``rm``, ``mkdir``, ``mv``.

Click wiring only: options and arguments here, the work in
:mod:`.operations` and :mod:`ftpferry.sync`, output in :mod:`.render`,
and the common behaviour (progress, ``-v``, ``--json``, errors and exit
codes) in :mod:`.runner`.  Each command is listed in
:data:`ftpferry.cli.COMMAND_HOMES`, from which the group imports this module
when one of them runs.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ftpferry.client import Mode, parse_port_range

from .connection import ClientSettings, Connector
from .failures import CommandError, ExitCode
from .operations import (
    get_file,
    get_matching,
    get_to_stdout,
    is_name_pattern,
    list_remote,
    make_directory,
    matching_files,
    mirror_tree,
    move_remote,
    put_file,
    put_files,
    remove_remote,
    rename_target,
)
from .progress import ProgressView
from .render import (
    Rendered,
    render_file,
    render_files,
    render_list,
    render_mirror,
    render_mkdir,
    render_move,
    render_remove,
)
from .runner import run_client_command
from .stdout import is_stdout_dest

__all__ = ["get", "ls", "mirror", "mkdir", "mv", "put", "rm"]

F = TypeVar("F", bound=Callable[..., Any])

COMMON_HELP = """
URLs look like ftp://user:password@host:port/path; ftps:// is explicit
FTPS (AUTH TLS), except on port 990 (implicit FTPS); --implicit-tls makes
any port implicit FTPS (TLS from the first byte, port 990 by default).
Without a password in the URL it comes from FTPFERRY_PASSWORD, ~/.netrc,
or a prompt on a terminal.  Exit codes: 0 ok, 1 refused by the server,
2 usage, 3 login refused, 4 connection, 5 local file, 6 TLS.
"""


def _port_range(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        return parse_port_range(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def client_options(func: F) -> F:
    """The options every client command takes, gathered into ``settings``."""
    options = [
        click.option(
            "--mode",
            type=click.Choice(["auto", "passive", "active"]),
            default="auto",
            show_default=True,
            help="Data connections: passive, active, or passive falling back to active.",
        ),
        click.option("--active-address", help="Address to advertise in active mode (EPRT/PORT)."),
        click.option(
            "--active-ports",
            callback=_port_range,
            metavar="LO-HI",
            help="Ports to listen on in active mode.",
        ),
        click.option("--insecure", is_flag=True, help="FTPS: do not verify the certificate."),
        click.option(
            "--cafile",
            type=click.Path(exists=True, dir_okay=False),
            help="FTPS: CA certificates (PEM) to trust.",
        ),
        click.option(
            "--implicit-tls",
            is_flag=True,
            help="Implicit FTPS: TLS from the first byte, on any port (default 990).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds for connecting, each reply, and a stalled transfer.",
        ),
        click.option(
            "--sync-mode",
            is_flag=True,
            help="One command at a time: never send EPSV ahead with the transfer command.",
        ),
        click.option("-v", "--verbose", is_flag=True, help="Show the FTP dialogue on stderr."),
        click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout."),
        click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr."),
    ]

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        mode: str,
        active_address: str | None,
        active_ports: tuple[int, int] | None,
        insecure: bool,
        cafile: str | None,
        implicit_tls: bool,
        timeout: float | None,
        sync_mode: bool,
        verbose: bool,
        as_json: bool,
        quiet: bool,
        **kwargs: Any,
    ) -> Any:
        modes: dict[str, Mode] = {"auto": "auto", "passive": "passive", "active": "active"}
        settings = ClientSettings(
            mode=modes[mode],
            active_address=active_address,
            active_ports=active_ports,
            insecure=insecure,
            cafile=cafile,
            implicit_tls=implicit_tls,
            timeout=timeout,
            sync_mode=sync_mode,
            verbose=verbose,
            json=as_json,
            quiet=quiet,
        )
        return func(*args, settings=settings, **kwargs)

    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def _connector(url: str, settings: ClientSettings, *, parallel: int = 1) -> Connector:
    try:
        return Connector(url, settings, tag_connections=parallel > 1)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from exc


def _check_settings(settings: ClientSettings) -> None:
    try:
        settings.client_config(ask_password=False)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _check_exclusions(patterns: tuple[str, ...]) -> None:
    from ftpferry.sync.exclude import Exclusions  # noqa: PLC0415 - only mirror needs it

    try:
        Exclusions(patterns)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--exclude") from exc


@click.command(epilog=COMMON_HELP)
@click.argument("url")
@client_options
def ls(url: str, settings: ClientSettings) -> None:
    """List a remote directory (or one file), long format."""
    _check_settings(settings)
    connector = _connector(url, settings)

    async def work(view: ProgressView) -> Rendered:
        async with await connector() as client:
            result = await list_remote(client, connector.path)
        return render_list(connector.display_url(), result)

    run_client_command("ls", settings, connector.display_url(), work)


@click.command(epilog=COMMON_HELP)
@click.argument("url")
@click.argument("dest", required=False, type=click.Path(allow_dash=True))
@click.option("-c", "--continue", "resume", is_flag=True, help="Resume a partial local file.")
@client_options
def get(url: str, dest: str | None, resume: bool, settings: ClientSettings) -> None:
    """Download URL to DEST (default: its name in the current directory).

    A pattern as the URL's last part (*.csv, report-202?.pdf) downloads the
    matching files of that directory into DEST, a directory (default: the
    current one), as wget and lftp's mget do; a file with the pattern's very
    name is got as itself.

    DEST "-" writes the file to standard output, and nothing else goes
    there: progress and the summary stay on stderr (no bars when stdout is
    a terminal).  A file called "-" is "./-".
    """
    _check_settings(settings)
    to_stdout = is_stdout_dest(dest)
    if to_stdout and resume:
        raise click.UsageError("-c/--continue cannot resume standard output (DEST -)")
    if to_stdout and settings.json:
        raise click.UsageError(
            "--json prints on standard output, which DEST - gives to the file; "
            "use a file name, or -q and the exit code"
        )
    connector = _connector(url, settings)
    pattern = is_name_pattern(connector.path)

    async def work(view: ProgressView) -> Rendered:
        local = Path(dest) if dest is not None else None
        async with await connector() as client:
            matches = await matching_files(client, connector.path) if pattern else None
            if matches is not None and to_stdout:
                # Known only now: a file with the pattern's very name goes to stdout as itself.
                raise CommandError(
                    "a pattern names several files; DEST - takes one", ExitCode.USAGE
                )
            if matches is not None:
                results = await get_matching(
                    client, connector.path, matches, local, resume=resume, view=view
                )
                return render_files("get", connector.display_url(), "download", results)
            if to_stdout:
                result = await get_to_stdout(client, connector.path, view=view)
            else:
                result = await get_file(client, connector.path, local, resume=resume, view=view)
        return render_file("get", connector.display_url(), result)

    run_client_command("get", settings, connector.display_url(), work, stdout_is_data=to_stdout)


@click.command(epilog=COMMON_HELP)
@click.argument(
    "sources", nargs=-1, required=True, metavar="SRC...", type=click.Path(path_type=Path)
)
@click.argument("url")
@click.option("-c", "--continue", "resume", is_flag=True, help="Resume a partial remote file.")
@click.option(
    "-p",
    "--parents",
    is_flag=True,
    help="Create missing remote directories first (curl's --ftp-create-dirs).",
)
@client_options
def put(
    sources: tuple[Path, ...], url: str, resume: bool, parents: bool, settings: ClientSettings
) -> None:
    """Upload SRC to URL (into it, when URL is a directory or ends with /).

    Several SRC files go into URL, which must then be a directory.
    """
    _check_settings(settings)
    connector = _connector(url, settings)
    path = connector.path

    async def work(view: ProgressView) -> Rendered:
        async with await connector() as client:
            if len(sources) > 1:
                results = await put_files(
                    client, sources, path, resume=resume, view=view, parents=parents
                )
                return render_files("put", connector.display_url(), "upload", results)
            result = await put_file(
                client, sources[0], path, resume=resume, view=view, parents=parents
            )
        return render_file("put", connector.display_url(result.remote), result)

    run_client_command("put", settings, connector.display_url(), work)


@click.command(epilog=COMMON_HELP)
@click.argument("source")
@click.argument("target")
@click.option(
    "-R", "--reverse", is_flag=True, help="Upload: mirror local SOURCE to remote TARGET URL."
)
@click.option("--delete", is_flag=True, help="Remove what the source no longer has.")
@click.option(
    "--parallel",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Connections sharing the transfers.",
)
@click.option(
    "--no-symlinks",
    "no_symlinks",
    is_flag=True,
    help="Download: skip remote symbolic links instead of making them (and list with MLSD only).",
)
@click.option(
    "--no-block-mode",
    "no_block_mode",
    is_flag=True,
    help="Never ask for MODE B: a new data connection for every file and listing.",
)
@click.option(
    "-x",
    "--exclude",
    "exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out matching names (*.tmp, .git), paths (logs/*.gz) or, with a "
    "trailing /, directories; on both sides, so --delete spares them too. Repeatable.",
)
@click.option(
    "-n",
    "--dry-run",
    "dry_run",
    is_flag=True,
    help="Show what would be transferred, created and removed; change nothing.",
)
@client_options
def mirror(
    source: str,
    target: str,
    reverse: bool,
    delete: bool,
    parallel: int,
    no_symlinks: bool,
    no_block_mode: bool,
    exclude: tuple[str, ...],
    dry_run: bool,
    settings: ClientSettings,
) -> None:
    """Copy only changed files: URL to DIR, or with --reverse DIR to URL.

    Files count as changed by size and modification time; copies get the
    source's time (MFMT on the server, when offered).  A partial copy left
    by an interrupted run is continued (REST/APPE), not sent again.
    Downloads make remote symbolic links as local ones with the same
    target, and never write through a local link.  Servers that offer
    MODE B (ftpferry does) keep one data connection per control
    connection for all files, instead of one per file.
    """
    if not no_block_mode:
        settings = dataclasses.replace(settings, block_mode=True)
    _check_settings(settings)
    _check_exclusions(exclude)
    url, local = (target, source) if reverse else (source, target)
    connector = _connector(url, settings, parallel=parallel)
    local_root = Path(local)

    async def work(view: ProgressView) -> Rendered:
        report = await mirror_tree(
            connector,
            local_root,
            direction="upload" if reverse else "download",
            delete=delete,
            parallel=parallel,
            view=view,
            symlinks=not no_symlinks,
            exclude=exclude,
            dry_run=dry_run,
        )
        return render_mirror(connector.display_url(), str(local_root), parallel, report)

    run_client_command("mirror", settings, connector.display_url(), work)


@click.command(epilog=COMMON_HELP)
@click.argument("url")
@click.option("-r", "--recursive", is_flag=True, help="Remove a directory and its contents.")
@client_options
def rm(url: str, recursive: bool, settings: ClientSettings) -> None:
    """Remove a remote file (with -r, a directory tree)."""
    _check_settings(settings)
    connector = _connector(url, settings)

    async def work(view: ProgressView) -> Rendered:
        async with await connector() as client:
            result = await remove_remote(client, connector.path, recursive=recursive, view=view)
        return render_remove(connector.display_url(), result)

    run_client_command("rm", settings, connector.display_url(), work)


@click.command(epilog=COMMON_HELP)
@click.argument("url")
@click.option("-p", "--parents", is_flag=True, help="Create parents; no error if it exists.")
@client_options
def mkdir(url: str, parents: bool, settings: ClientSettings) -> None:
    """Create a remote directory."""
    _check_settings(settings)
    connector = _connector(url, settings)

    async def work(view: ProgressView) -> Rendered:
        async with await connector() as client:
            result = await make_directory(client, connector.path, parents=parents)
        return render_mkdir(connector.display_url(), result)

    run_client_command("mkdir", settings, connector.display_url(), work)


@click.command(epilog=COMMON_HELP)
@click.argument("url")
@click.argument("new_path")
@client_options
def mv(url: str, new_path: str, settings: ClientSettings) -> None:
    """Rename or move a remote file or directory to NEW_PATH (same server)."""
    _check_settings(settings)
    connector = _connector(url, settings)

    async def work(view: ProgressView) -> Rendered:
        target = rename_target(connector, new_path)
        async with await connector() as client:
            result = await move_remote(client, connector.path, target)
        return render_move(connector.display_url(), result)

    run_client_command("mv", settings, connector.display_url(), work)
