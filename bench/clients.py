"""Client benchmark: the ftpferry command line against lftp and curl, one server.

    .venv/bin/python bench/clients.py             # 1 GiB file, 2,000 small files, 5 runs
    .venv/bin/python bench/clients.py --quick     # 256 MiB, 500 small files, 3 runs
    .venv/bin/python bench/clients.py --server vsftpd   # the same against vsftpd

Starts ONE server (``ftpferry serve`` unless ``--server`` names another of
bench/servers.py) on a loopback port and, against it, times
each client doing the same things: download and upload of one big file,
and a mirror of a tree of small files in both directions.  The clients
take turns (the order rotates every round), so a burst of load on a shared
machine does not fall on one client only.  Each time is the wall time of
the whole client process, start-up included: what a user waits for.

The whole matrix runs twice, on two file systems (``--filesystems``):
tmpfs with ordinary 4 KiB pages (/dev/shm), and, as root, a private tmpfs
mounted with ``huge=within_size``.  On the first, an upload is bound by
the server's page-cache work (allocating and charging 262,144 pages per
GiB), which every client waits for alike; on the second that work is
small, and the clients' own costs show.  The report (medians, MB/s and
ratios against lftp, one table per file system) is printed and written to
bench/results/clients-latest.md.  Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import CpuSampler, make_file
from run import cpu_model, curl_version, log
from servers import ALL_SERVERS, VENV_BIN, Ftpferry, FtpServer, ServerError

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "clients-latest.md"
MiB = 1 << 20
USER = "bench"
CLIENTS = ("ftpferry", "lftp", "curl")
OPERATIONS = (
    "download",
    "upload",
    "mirror-down",
    "mirror-up",
    "mirror-down-stream",
    "mirror-up-stream",
)
STREAM = "-stream"
"""ftpferry's mirror with ``--no-block-mode``: what it does against a server
without MODE B (lftp never asks for it), compared with lftp's same mirror.
Only run against ftpferry's server: the others refuse MODE B, so every
mirror against them is in stream mode already."""
SERVERS = {cls.name: cls for cls in ALL_SERVERS}


def operations_for(server: str, wanted: tuple[str, ...] = OPERATIONS) -> tuple[str, ...]:
    """The rows of ``wanted`` measured against ``server`` (see :data:`STREAM`)."""
    return tuple(
        operation
        for operation in wanted
        if server == Ftpferry.name or not operation.endswith(STREAM)
    )


@dataclass(frozen=True)
class Plan:
    big_size: int
    small_files: int
    small_dirs: int
    repeats: int
    parallel: int = 4
    timeout: float = 600.0


FULL = Plan(big_size=1024 * MiB, small_files=2000, small_dirs=20, repeats=5)
QUICK = Plan(big_size=256 * MiB, small_files=500, small_dirs=10, repeats=3)
SHM = Path("/dev/shm")
SHM_NEEDED = 4 << 30  # the big file, a downloaded copy, an uploaded copy, the trees


def default_workdir() -> Path:
    """tmpfs when it has room: the clients' disk writes are not what is measured,
    and the writeback of one run's gigabyte must not slow the next run down."""
    with contextlib.suppress(OSError):
        stats = os.statvfs(SHM)
        if stats.f_bavail * stats.f_frsize >= SHM_NEEDED:
            return SHM
    return Path("/var/tmp")


HUGE_TMPFS_SIZE = "6g"  # the big file three times over, the trees, and room to spare


@dataclass(frozen=True)
class FileSystem:
    """One of the file systems the matrix runs on, and what its numbers mean."""

    key: str
    title: str
    meaning: str


FILESYSTEMS = {
    "pages": FileSystem(
        "pages",
        "tmpfs with 4 KiB pages",
        "Writing a file here costs its writer about 0.35 s of kernel time per GiB "
        "(allocating, charging and filling 262,144 pages). In an upload that writer is the "
        "server, and every client waits for it alike: the upload times show the server's "
        "page cache, and what is left between the clients is mostly start-up.",
    ),
    "huge": FileSystem(
        "huge",
        "tmpfs with huge pages (`huge=within_size`)",
        "The same matrix on a private tmpfs mounted with `huge=within_size`: files of 2 MiB "
        "and more get 2 MiB pages, so the page-cache work per GiB is a fraction of the above "
        "and the clients' own costs (copies, system calls, start-up) decide the times. "
        "Memory compaction for huge pages now and then stalls one run; the medians absorb it.",
    ),
}


class NoFileSystem(Exception):
    """The file system for a section cannot be had here (not root, mount refused)."""


@contextlib.contextmanager
def data_directory(filesystem: FileSystem, base: Path | None, keep: bool) -> Iterator[Path]:
    """A fresh directory on ``filesystem`` for one section, removed afterwards."""
    if filesystem.key == "pages":
        parent = base or default_workdir()
        parent.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="ftpclients-", dir=parent))
        directory.chmod(0o755)  # mkdtemp's 0700 would keep a daemon's system user out
        try:
            yield directory
        finally:
            if keep:
                log(f"kept {directory}")
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return
    if os.geteuid() != 0:
        raise NoFileSystem("mounting a tmpfs needs root")
    directory = Path(tempfile.mkdtemp(prefix="ftpclients-huge-", dir=base or "/var/tmp"))
    options = f"size={HUGE_TMPFS_SIZE},huge=within_size,mode=0755"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "ftpclients", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        directory.rmdir()
        raise NoFileSystem(f"mount -t tmpfs -o {options}: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        if keep:
            log(f"kept {directory} (a tmpfs: `umount {directory}` when done)")
        else:
            subprocess.run(["umount", str(directory)], check=False)
            directory.rmdir()


@dataclass
class Cell:
    """One client doing one operation, ``repeats`` times."""

    seconds: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def best(self) -> float | None:
        return min(self.seconds) if self.seconds else None


# -- the data ---------------------------------------------------------------------------


def make_small_tree(root: Path, files: int, dirs: int) -> int:
    """``files`` files of 1-32 KiB (fixed seed) in ``dirs`` directories; returns bytes."""
    rng = random.Random(20261126)
    block = os.urandom(32 * 1024)
    total = 0
    for index in range(files):
        directory = root / f"dir {index % dirs:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1024, 32 * 1024)
        start = rng.randrange(0, 32 * 1024 - size + 1)
        (directory / f"file-{index:05d}.bin").write_bytes(block[start : start + size])
        total += size
    return total


def tree_size(root: Path) -> tuple[int, int]:
    """(files, bytes) under root."""
    count = total = 0
    for path in root.rglob("*"):
        if path.is_file():
            count += 1
            total += path.stat().st_size
    return count, total


# -- the commands -----------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What one run needs: where things are, and how to check the result."""

    server: FtpServer
    work: Path
    big: Path
    small: Path
    small_count: int
    small_bytes: int
    parallel: int


def lftp_script(job: Job, command: str) -> list[str]:
    server = job.server
    login = f"open -u {server.user},{server.password} -p {server.port} 127.0.0.1"
    return ["lftp", "-c", f"{login}; {command}"]


def command_for(client: str, operation: str, job: Job) -> tuple[list[str], Path, str] | None:
    """(argv, where the result lands, remote name) for one run; None when not offered."""
    server, work = job.server, job.work
    url = server.url
    ftpferry = [str(VENV_BIN / "ftpferry")]
    if operation == "download":
        dest = work / f"down-{client}.bin"
        argv = {
            "ftpferry": [*ftpferry, "get", "-q", url + "big.bin", str(dest)],
            "lftp": lftp_script(job, f"get big.bin -o {dest}"),
            "curl": ["curl", "-s", "-S", "-o", str(dest), url + "big.bin"],
        }[client]
        return argv, dest, "big.bin"
    if operation == "upload":
        name = f"up-{client}.bin"
        argv = {
            "ftpferry": [*ftpferry, "put", "-q", str(job.big), url + name],
            "lftp": lftp_script(job, f"put {job.big} -o {name}"),
            "curl": ["curl", "-s", "-S", "-T", str(job.big), url + name],
        }[client]
        return argv, server.root / name, name
    if client == "curl":
        return None  # curl has no mirror
    parallel = str(job.parallel)
    if operation.endswith(STREAM):
        if client != "ftpferry":
            return None
        spec = command_for(client, operation.removesuffix(STREAM), job)
        assert spec is not None
        argv, landed, name = spec
        return [*argv[:2], "--no-block-mode", *argv[2:]], landed, name  # after "mirror"
    if operation == "mirror-down":
        dest = work / f"mirror-{client}"
        argv = {
            "ftpferry": [
                *(*ftpferry, "mirror", "-q", "--parallel", parallel),
                url + "small",
                str(dest),
            ],
            "lftp": lftp_script(job, f"mirror --parallel={parallel} small {dest}"),
        }[client]
        return argv, dest, "small"
    name = f"small-up-{client}"
    argv = {
        "ftpferry": [
            *ftpferry,
            *("mirror", "-q", "--reverse", "--parallel", parallel),
            str(job.small),
            url + name,
        ],
        "lftp": lftp_script(job, f"mirror -R --parallel={parallel} {job.small} {name}"),
    }[client]
    return argv, server.root / name, name


def check(operation: str, landed: Path, job: Job) -> str | None:
    """Why the result is wrong, or None."""
    if operation in {"download", "upload"}:
        size = landed.stat().st_size if landed.exists() else -1
        return None if size == job.big.stat().st_size else f"{landed.name}: {size} bytes"
    count, total = tree_size(landed) if landed.exists() else (0, 0)
    if (count, total) != (job.small_count, job.small_bytes):
        return f"{landed.name}: {count} files, {total} bytes"
    return None


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def client_environment() -> dict[str, str]:
    """The clients' environment: Python may keep its bytecode caches, as on any
    installation (a PYTHONDONTWRITEBYTECODE left in the environment would make
    every ftpferry start compile its modules again and time that instead)."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(client: str, operation: str, job: Job, cell: Cell, timeout: float) -> None:
    spec = command_for(client, operation, job)
    if spec is None:
        return
    argv, landed, _name = spec
    remove(landed)
    os.sync()  # no dirty pages from the last run being written out during this one
    before = children_cpu()
    sampler = CpuSampler(job.server.pid, tree=job.server.multi_process)
    started = time.perf_counter()
    try:
        with sampler:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=client_environment(),
            )
    except subprocess.TimeoutExpired:
        cell.errors.append(f"did not finish in {timeout:.0f}s")
        return
    finally:
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        cell.errors.append(f"exit {done.returncode}: {tail[0][:200]}")
        remove(landed)
        return
    problem = check(operation, landed, job)
    remove(landed)
    if problem is not None:
        cell.errors.append(problem)
        return
    cell.seconds.append(elapsed)
    cell.client_cpu.append(children_cpu() - before)
    cell.server_cpu.append(sampler.seconds)


def startup_seconds(argv: list[str], runs: int = 5) -> float:
    """Median wall time of a command that does nothing but start (after one warm-up)."""
    subprocess.run(argv, capture_output=True, check=False, env=client_environment())
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=client_environment())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- the report -------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def rate(nbytes: int, seconds: float | None) -> float | None:
    return nbytes / seconds / 1e6 if seconds else None


def operation_bytes(operation: str, plan: Plan, small_bytes: int) -> int:
    return plan.big_size if operation in {"download", "upload"} else small_bytes


LABELS = {
    "download": "download {big}",
    "upload": "upload {big}",
    "mirror-down": "mirror {n} files, server to local",
    "mirror-up": "mirror {n} files, local to server (-R)",
    "mirror-down-stream": "mirror {n} files, server to local, stream mode",
    "mirror-up-stream": "mirror {n} files, local to server (-R), stream mode",
}


@dataclass
class Section:
    """The whole matrix on one file system."""

    filesystem: FileSystem
    operations: tuple[str, ...] = OPERATIONS
    where: str = ""
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    small_bytes: int = 0
    skipped: str | None = None


def report_header(
    plan: Plan,
    started: float,
    versions: dict[str, str],
    startups: dict[str, float],
    quick: bool,
) -> list[str]:
    now = dt.datetime.now(dt.UTC).astimezone()
    load1, load5, _ = os.getloadavg()
    big = f"{plan.big_size // MiB} MiB"
    server = versions["server"]
    if server == Ftpferry.name:
        served = "one `ftpferry serve`"
        block_mode = (
            "- ftpferry's mirror asks for MODE B (block mode: one data connection per control "
            "connection for all files) and ftpferry's server grants it; lftp does not use block "
            "mode. The *stream mode* rows are ftpferry with `--no-block-mode`, as against a "
            "server without MODE B, compared with the same lftp runs"
        )
    else:
        served = f"one {server} {versions['server_version']}"
        block_mode = (
            f"- {server} refuses MODE B, so ftpferry's mirrors here are in stream mode (one "
            "data connection per file and listing), as lftp's always are"
        )
    return [
        "# ftpferry client benchmark results",
        "",
        f"- date: {now:%Y-%m-%d %H:%M %Z}",
        f"- machine: nproc {os.cpu_count()}, {cpu_model()}, Linux {platform.release()}; "
        f"load average at the end {load1:.2f} (1 min), {load5:.2f} (5 min)",
        f"- mode: {'quick' if quick else 'full'} ({time.monotonic() - started:.0f} s); "
        f"Python {platform.python_version()}; ftpferry {versions['ftpferry']}, "
        f"lftp {versions['lftp']}, curl {versions['curl']}",
        f"- {served} on 127.0.0.1 per file system; passive mode (each client's "
        f"default); one warm-up round, then {plan.repeats} timed runs per cell, clients taking "
        "turns (the order rotates every round)",
        "- server root and client files on the same file system (one section per file "
        "system below); tmpfs either way, so disk writes are not what is measured",
        f"- big file: {big} (one random MiB repeated); small files: {plan.small_files} files "
        f"of 1-32 KiB in {plan.small_dirs} directories; mirrors with {plan.parallel} "
        f"connections (`--parallel {plan.parallel}`, lftp `--parallel={plan.parallel}`); "
        "curl has no mirror",
        "- seconds: wall time of the whole client process, start-up included; median of the "
        "runs (best in brackets); MB/s = 10^6 bytes / median seconds",
        "- vs lftp: lftp's median time / this client's (above 1.00x is faster than lftp)",
        block_mode,
        "- start-up alone (`--version`, median of 5, bytecode caches warm): "
        + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in startups.items()),
    ]


def report_section(section: Section, plan: Plan) -> list[str]:
    filesystem = section.filesystem
    heading = ["", f"## {filesystem.title}", ""]
    if section.skipped is not None:
        return [*heading, f"Not run: {section.skipped}."]
    cells, small_bytes = section.cells, section.small_bytes
    big = f"{plan.big_size // MiB} MiB"
    lines = [
        *heading,
        filesystem.meaning,
        "",
        f"Data in {section.where}; the small files are {small_bytes / 1e6:.1f} MB.",
        "",
        "| operation | ftpferry s | MB/s | vs lftp | lftp s | MB/s | curl s | MB/s | vs lftp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for operation in section.operations:
        nbytes = operation_bytes(operation, plan, small_bytes)
        label = LABELS[operation].format(big=big, n=f"{plan.small_files:,}")
        lftp_cell = cells.get(("lftp", operation.removesuffix(STREAM)))
        lftp = lftp_cell.median if lftp_cell is not None else None
        row = [label]
        for client in CLIENTS:
            cell = cells[(client, operation)]
            if operation.endswith(STREAM) and client == "lftp":
                row += ["(above)", "-"]
                continue
            if client == "curl" and operation.startswith("mirror"):
                row += ["-", "-", "-"]
                continue
            seconds = cell.median
            text = f"{fmt(seconds)} ({fmt(cell.best)})" if seconds is not None else "failed"
            row += [text, fmt(rate(nbytes, seconds), 0)]
            if client != "lftp":
                row.append(f"{lftp / seconds:.2f}x" if lftp and seconds else "-")
        lines.append("| " + " | ".join(row) + " |")
    details = [
        "",
        "CPU seconds per run (medians): the client process tree, and the server.",
        "",
        "| operation | ftpferry client | server | lftp client | server | curl client | server |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for operation in section.operations:
        row = [operation]
        for client in CLIENTS:
            cell = cells[(client, operation)]
            for values in (cell.client_cpu, cell.server_cpu):
                row.append(fmt(statistics.median(values)) if values else "-")
        details.append("| " + " | ".join(row) + " |")
    notes = [
        f"- **{client} {operation}**: {error}"
        for (client, operation), cell in cells.items()
        for error in cell.errors
    ]
    return lines + details + (["", "Errors:", "", *notes] if notes else [])


def _installed_version() -> str:
    """The ftpferry client's version (``ftpferry, version 0.1.0``)."""
    return version_of([str(VENV_BIN / "ftpferry"), "--version"], lambda out: out.split()[-1])


def version_of(argv: list[str], pick: Callable[[str], str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "?"
    try:
        return pick(out)
    except IndexError:
        return "?"


# -- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="256 MiB, 500 small files")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per cell (default 5, quick 3)"
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default=Ftpferry.name,
        help="the server every client talks to (default ftpferry; the C daemons need root "
        "and bench/install-servers.sh)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"Markdown report (default {DEFAULT_OUTPUT.relative_to(BENCH_DIR.parent)}, "
        "or clients-SERVER-latest.md beside it for another server)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent of the data directories (default: /dev/shm when it has 4 GiB free, else "
        "/var/tmp, for the 4 KiB-page section; /var/tmp for the huge-page mount point)",
    )
    parser.add_argument(
        "--filesystems",
        default=",".join(FILESYSTEMS),
        help="comma-separated, in order: pages (tmpfs, 4 KiB pages), huge (a private tmpfs "
        "with huge pages; root only); default: both",
    )
    parser.add_argument(
        "--operations",
        default=",".join(OPERATIONS),
        help=f"comma-separated rows to measure (default all: {', '.join(OPERATIONS)})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args(argv)
    unknown = set(args.filesystems.split(",")) - set(FILESYSTEMS)
    if unknown:
        parser.error(f"unknown file system {', '.join(sorted(unknown))}")
    args.operations = tuple(args.operations.split(","))
    if not set(args.operations) <= set(OPERATIONS):
        parser.error(f"unknown operation {', '.join(set(args.operations) - set(OPERATIONS))}")
    if args.output is None:
        name = "clients" if args.server == Ftpferry.name else f"clients-{args.server}"
        args.output = DEFAULT_OUTPUT.with_name(f"{name}-latest.md")
    return args


def measure_section(
    section: Section,
    plan: Plan,
    workdir: Path,
    server_class: type[FtpServer],
    operations: tuple[str, ...],
) -> str:
    """Run the matrix with its data in ``workdir``; returns the server's version."""
    section.where = (
        str(workdir.parent) if section.filesystem.key == "pages" else "a private tmpfs mount"
    )
    section.operations = operations_for(server_class.name, operations)
    section.cells = {
        (client, operation): Cell() for client in CLIENTS for operation in section.operations
    }
    root = workdir / "root"
    root.mkdir()
    work = workdir / "client"
    work.mkdir()
    big = workdir / "big.bin"
    log(
        f"{section.filesystem.key}: writing the {plan.big_size // MiB} MiB file and "
        f"{plan.small_files} small files in {workdir}"
    )
    make_file(big, plan.big_size)
    os.link(big, root / "big.bin")
    small = workdir / "small"
    section.small_bytes = make_small_tree(small, plan.small_files, plan.small_dirs)
    shutil.copytree(small, root / "small")
    password = "Fb-" + secrets.token_urlsafe(12)
    own = workdir / "server"
    own.mkdir()
    server = server_class(own, root, USER, password, 26000)
    server.start()
    try:
        log(f"{server.name} {server.version} on port {server.port}, pid {server.pid}")
        job = Job(server, work, big, small, plan.small_files, section.small_bytes, plan.parallel)
        log("warm-up round (not counted)")
        for operation in section.operations:
            for client in CLIENTS:
                run_once(client, operation, job, Cell(), plan.timeout)
        for round_index in range(plan.repeats):
            order = CLIENTS[round_index % 3 :] + CLIENTS[: round_index % 3]
            for operation in section.operations:
                for client in order:
                    cell = section.cells[(client, operation)]
                    run_once(client, operation, job, cell, plan.timeout)
                    what = f"{section.filesystem.key} round {round_index + 1}: {client} {operation}"
                    if cell.seconds and len(cell.seconds) == round_index + 1:
                        log(f"{what} {cell.seconds[-1]:.2f}s")
                    elif cell.errors:
                        log(f"{what}: {cell.errors[-1]}")
        return server.version
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = Plan(**{**plan.__dict__, "repeats": args.repeats})
    missing = [tool for tool in ("lftp", "curl") if shutil.which(tool) is None]
    if missing or not (VENV_BIN / "ftpferry").exists():
        print(f"needed: {', '.join(missing) or '.venv/bin/ftpferry'} (see bench/README.md)")
        return 2
    started = time.monotonic()
    startups = {
        "ftpferry": startup_seconds([str(VENV_BIN / "ftpferry"), "--version"]),
        "lftp": startup_seconds(["lftp", "--version"]),
        "curl": startup_seconds(["curl", "--version"]),
    }
    server_class = SERVERS[args.server]
    versions = {
        "server": server_class.name,
        "server_version": "?",
        "ftpferry": _installed_version(),
        "lftp": version_of(["lftp", "--version"], lambda out: out.split()[3]),
        "curl": curl_version(),
    }
    sections = [Section(FILESYSTEMS[key]) for key in args.filesystems.split(",")]
    for section in sections:
        try:
            with data_directory(section.filesystem, args.workdir, args.keep) as workdir:
                versions["server_version"] = measure_section(
                    section, plan, workdir, server_class, args.operations
                )
        except NoFileSystem as exc:
            section.skipped = str(exc)
            log(f"{section.filesystem.key}: skipped, {exc}")
        except ServerError as exc:
            print(f"{server_class.name} did not start: {exc}")
            return 1
    body = [line for section in sections for line in report_section(section, plan)]
    text = "\n".join(report_header(plan, started, versions, startups, args.quick) + body) + "\n"
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
