"""Client benchmark: the ftpferry command line against lftp and curl, one ftpferry server.

    .venv/bin/python bench/clients.py             # 1 GiB file, 2,000 small files, 3 runs
    .venv/bin/python bench/clients.py --quick     # 256 MiB, 500 small files, 3 runs

Starts ONE ``ftpferry serve`` on a loopback port and, against it, times
each client doing the same four things: download and upload of one big
file, and a mirror of a tree of small files in both directions.  The
clients take turns (the order rotates every round), so a burst of load on
a shared machine does not fall on one client only.  Each time is the wall
time of the whole client process, start-up included: what a user waits
for.  The report (medians, MB/s and ratios against lftp) is printed and
written to bench/results/clients-latest.md.  Nothing here asserts on
timings; the server benchmark (bench/run.py) is separate and unchanged.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import CpuSampler, make_file
from run import cpu_model, curl_version, log
from servers import VENV_BIN, Ftpferry, ServerError

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
without MODE B (lftp never asks for it), compared with lftp's same mirror."""


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

    server: Ftpferry
    work: Path
    big: Path
    small: Path
    small_count: int
    small_bytes: int
    parallel: int


def lftp_script(job: Job, command: str) -> list[str]:
    server = job.server
    return ["lftp", "-c", f"open -u {USER},{server.password} -p {server.port} 127.0.0.1; {command}"]


def command_for(client: str, operation: str, job: Job) -> tuple[list[str], Path, str] | None:
    """(argv, where the result lands, remote name) for one run; None when not offered."""
    server, work = job.server, job.work
    url = f"ftp://{USER}:{server.password}@127.0.0.1:{server.port}/"
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
    sampler = CpuSampler(job.server.pid, tree=False)
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


def report(
    cells: dict[tuple[str, str], Cell],
    plan: Plan,
    small_bytes: int,
    started: float,
    versions: dict[str, str],
    startups: dict[str, float],
    quick: bool,
    where: Path,
) -> str:
    now = dt.datetime.now(dt.UTC).astimezone()
    load1, load5, _ = os.getloadavg()
    big = f"{plan.big_size // MiB} MiB"
    header = [
        "# ftpferry client benchmark results",
        "",
        f"- date: {now:%Y-%m-%d %H:%M %Z}",
        f"- machine: nproc {os.cpu_count()}, {cpu_model()}, Linux {platform.release()}; "
        f"load average at the end {load1:.2f} (1 min), {load5:.2f} (5 min)",
        f"- mode: {'quick' if quick else 'full'} ({time.monotonic() - started:.0f} s); "
        f"Python {platform.python_version()}; ftpferry {versions['ftpferry']}, "
        f"lftp {versions['lftp']}, curl {versions['curl']}",
        "- one `ftpferry serve` on 127.0.0.1 for every run; passive mode (each client's "
        f"default); one warm-up round, then {plan.repeats} timed runs per cell, clients taking "
        "turns (the order rotates every round)",
        f"- data (server root and client side) in {where}"
        + (" (tmpfs: disk writes are not what is measured)" if where == SHM else ""),
        f"- big file: {big} (one random MiB repeated); small files: {plan.small_files} files "
        f"of 1-32 KiB in {plan.small_dirs} directories ({small_bytes / 1e6:.1f} MB); "
        f"mirrors with {plan.parallel} connections (`--parallel {plan.parallel}`, lftp "
        f"`--parallel={plan.parallel}`); curl has no mirror",
        "- seconds: wall time of the whole client process, start-up included; median of the "
        "runs (best in brackets); MB/s = 10^6 bytes / median seconds",
        "- vs lftp: lftp's median time / this client's (above 1.00x is faster than lftp)",
        "- ftpferry's mirror asks for MODE B (block mode: one data connection per control "
        "connection for all files) and ftpferry's server grants it; lftp does not use block "
        "mode. The *stream mode* rows are ftpferry with `--no-block-mode`, as against a "
        "server without MODE B, compared with the same lftp runs",
        "- start-up alone (`--version`, median of 5, bytecode caches warm): "
        + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in startups.items()),
        "",
    ]
    lines = [
        "| operation | ftpferry s | MB/s | vs lftp | lftp s | MB/s | curl s | MB/s | vs lftp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for operation in OPERATIONS:
        nbytes = operation_bytes(operation, plan, small_bytes)
        label = LABELS[operation].format(big=big, n=f"{plan.small_files:,}")
        lftp = cells[("lftp", operation.removesuffix(STREAM))].median
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
    for operation in OPERATIONS:
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
    body = lines + details + (["", "Errors:", "", *notes] if notes else [])
    return "\n".join(header + body) + "\n"


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
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"Markdown report (default {DEFAULT_OUTPUT.relative_to(BENCH_DIR.parent)})",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the data goes (default: /dev/shm when it has 4 GiB free, else /var/tmp)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


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
    base = args.workdir or default_workdir()
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ftpclients-", dir=base))
    cells = {(client, operation): Cell() for client in CLIENTS for operation in OPERATIONS}
    server: Ftpferry | None = None
    log(f"working in {workdir}")
    try:
        root = workdir / "root"
        root.mkdir()
        work = workdir / "client"
        work.mkdir()
        big = workdir / "big.bin"
        log(f"writing the {plan.big_size // MiB} MiB file and {plan.small_files} small files")
        make_file(big, plan.big_size)
        os.link(big, root / "big.bin")
        small = workdir / "small"
        small_bytes = make_small_tree(small, plan.small_files, plan.small_dirs)
        shutil.copytree(small, root / "small")
        password = "Fb-" + secrets.token_urlsafe(12)
        own = workdir / "server"
        own.mkdir()
        server = Ftpferry(own, root, USER, password, 26000)
        server.start()
        log(f"ftpferry serve {server.version} on port {server.port}, pid {server.pid}")
        job = Job(server, work, big, small, plan.small_files, small_bytes, plan.parallel)
        startups = {
            "ftpferry": startup_seconds([str(VENV_BIN / "ftpferry"), "--version"]),
            "lftp": startup_seconds(["lftp", "--version"]),
            "curl": startup_seconds(["curl", "--version"]),
        }
        log("warm-up round (not counted)")
        for operation in OPERATIONS:
            for client in CLIENTS:
                run_once(client, operation, job, Cell(), plan.timeout)
        for round_index in range(plan.repeats):
            order = CLIENTS[round_index % 3 :] + CLIENTS[: round_index % 3]
            for operation in OPERATIONS:
                for client in order:
                    cell = cells[(client, operation)]
                    run_once(client, operation, job, cell, plan.timeout)
                    what = f"round {round_index + 1}: {client} {operation}"
                    if cell.seconds and len(cell.seconds) == round_index + 1:
                        log(f"{what} {cell.seconds[-1]:.2f}s")
                    elif cell.errors:
                        log(f"{what}: {cell.errors[-1]}")
        versions = {
            "ftpferry": server.version,
            "lftp": version_of(["lftp", "--version"], lambda out: out.split()[3]),
            "curl": curl_version(),
        }
    except ServerError as exc:
        print(f"ftpferry serve did not start: {exc}")
        return 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(cells, plan, small_bytes, started, versions, startups, args.quick, base)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
