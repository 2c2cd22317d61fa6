"""Side-by-side benchmark: ftpferry against pyftpdlib, vsftpd, proftpd and pure-ftpd.

    .venv/bin/python bench/run.py            # full run (1 GiB file, 200 clients, 1000 sessions)
    .venv/bin/python bench/run.py --quick    # 256 MiB, 50 clients, 200 sessions

Starts each server in turn on a loopback port (never two at once), runs the
four measurements against it, stops it, and prints a Markdown table with
ratios relative to ftpferry; the same report goes to bench/results/latest.md.
A server that cannot start gets "failed: reason" in its row; the run goes on.
Nothing here asserts on timings: it only reports them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import (
    CLIENT_PROCESSES,
    ConcurrencyResult,
    MemoryResult,
    ThroughputResult,
    concurrent_clients,
    idle_session_memory,
    make_file,
    median_run,
    raise_open_file_limit,
    transfer_throughput,
)
from servers import ALL_SERVERS, BENCH_USER, FtpServer, ServerError

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "latest.md"
MiB = 1 << 20


@dataclass(frozen=True)
class Plan:
    file_size: int
    repeats: int
    clients: int
    rounds: int
    sessions: int
    small_size: int = 64 * 1024
    transfer_timeout: float = 300.0
    client_timeout: float = 60.0
    concurrency_deadline: float = 300.0
    login_timeout: float = 30.0


FULL = Plan(file_size=1024 * MiB, repeats=3, clients=200, rounds=5, sessions=1000)
QUICK = Plan(file_size=256 * MiB, repeats=3, clients=50, rounds=5, sessions=200)


@dataclass
class Row:
    name: str
    version: str = "?"
    failed: str | None = None
    multi_process: bool = False
    retr: ThroughputResult | None = None
    stor: ThroughputResult | None = None
    crowd: ConcurrencyResult | None = None
    memory: MemoryResult | None = None
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        target.chmod(0o644)


def bench_server(
    cls: type[FtpServer],
    plan: Plan,
    workdir: Path,
    files: list[Path],
    password: str,
    port_base: int,
) -> Row:
    row = Row(name=cls.name, multi_process=cls.multi_process)
    own = workdir / cls.name
    own.mkdir()
    root = workdir / f"root-{cls.name}"
    root.mkdir()
    root.chmod(0o755)
    for item in files:
        link_or_copy(item, root / item.name)
    server = cls(own, root, "bench", password, port_base)
    try:
        log(f"{cls.name}: starting")
        server.start()
        row.version = server.version
        log(f"{cls.name} {server.version}: listening on {server.port}, pid {server.pid}")
        row.memory = idle_session_memory(server, plan.sessions, plan.login_timeout)
        log(f"{cls.name}: {row.memory.sessions_ok} idle sessions measured")
        big = files[0]
        row.retr = transfer_throughput(server, "RETR", big, plan.repeats, plan.transfer_timeout)
        log(f"{cls.name}: RETR {[round(s) for s in row.retr.speeds]} MB/s")
        row.stor = transfer_throughput(server, "STOR", big, plan.repeats, plan.transfer_timeout)
        log(f"{cls.name}: STOR {[round(s) for s in row.stor.speeds]} MB/s")
        crowds = []
        for _ in range(plan.repeats):
            crowds.append(
                concurrent_clients(
                    server,
                    files[1],
                    plan.clients,
                    plan.rounds,
                    plan.client_timeout,
                    plan.concurrency_deadline,
                )
            )
            log(f"{cls.name}: {plan.clients} clients in {crowds[-1].wall_s:.2f}s")
        row.crowd = median_run(crowds)
    except ServerError as exc:
        row.failed = str(exc)
        log(f"{cls.name}: failed: {exc}")
    except Exception as exc:  # keep going with the next server, but say what broke
        row.failed = f"{type(exc).__name__}: {exc}"
        log(f"{cls.name}: failed:\n{traceback.format_exc()}")
    finally:
        row.notes.extend(server.notes)
        server.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(root)
    return row


# -- the report -------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or reference == 0:
        return "-"
    return f"{value / reference:.2f}x"


def memory_kb(row: Row) -> float | None:
    if row.memory is None:
        return None
    return row.memory.per_session_kb("pss_kb" if row.multi_process else "rss_kb")


def speeds(result: ThroughputResult | None) -> str:
    if result is None or not result.speeds:
        return "failed" if result is not None else "-"
    return f"{fmt(result.best)} / {fmt(result.median)}"


def main_table(rows: list[Row], plan: Plan) -> list[str]:
    ref = next((row for row in rows if row.name == "ftpferry" and row.failed is None), None)

    def median(result: ThroughputResult | None) -> float | None:
        return result.median if result is not None else None

    def rps(row: Row | None) -> float | None:
        return row.crowd.requests_per_s if row is not None and row.crowd is not None else None

    size = f"{plan.file_size // MiB} MiB"
    lines = [
        f"| server | RETR {size} MB/s best / median | vs ftpferry | "
        f"STOR {size} MB/s best / median | vs ftpferry | "
        f"{plan.clients} clients: wall s | req/s | vs ftpferry | "
        f"KB per idle session ({plan.sessions}) | how measured | vs ftpferry |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        label = f"{row.name} {row.version}" if row.version != "?" else row.name
        if row.failed is not None and row.retr is None:
            lines.append(f"| {label} | failed: {row.failed} |" + " |" * 9)
            continue
        how = "VmRSS, one process"
        if row.multi_process:
            procs = row.memory.after.processes if row.memory and row.memory.after else "?"
            how = f"PSS summed over process tree ({procs} procs)"
        crowd = row.crowd
        lines.append(
            "| "
            + " | ".join(
                [
                    label,
                    speeds(row.retr),
                    ratio(median(row.retr), median(ref.retr) if ref else None),
                    speeds(row.stor),
                    ratio(median(row.stor), median(ref.stor) if ref else None),
                    fmt(crowd.wall_s, 1) if crowd else "-",
                    fmt(rps(row)),
                    ratio(rps(row), rps(ref)),
                    fmt(memory_kb(row)),
                    how,
                    ratio(memory_kb(row), memory_kb(ref) if ref else None),
                ]
            )
            + " |"
        )
    return lines


def detail_table(rows: list[Row]) -> list[str]:
    lines = [
        "| server | server CPU s/GiB RETR | server CPU s/GiB STOR | "
        "crowd: server CPU s | crowd: client CPU s | crowd: clients ok | "
        "idle: RSS Δ KB/session | idle: PSS Δ KB/session | idle: sessions ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.failed is not None and row.retr is None:
            continue
        crowd, memory = row.crowd, row.memory
        lines.append(
            "| "
            + " | ".join(
                [
                    row.name,
                    fmt(row.retr.cpu_per_gib if row.retr else None, 2),
                    fmt(row.stor.cpu_per_gib if row.stor else None, 2),
                    fmt(crowd.server_cpu_s, 1) if crowd else "-",
                    fmt(crowd.client_cpu_s, 1) if crowd else "-",
                    f"{crowd.clients_ok}/{crowd.clients}" if crowd else "-",
                    fmt(memory.per_session_kb("rss_kb") if memory else None, 1),
                    fmt(memory.per_session_kb("pss_kb") if memory else None, 1),
                    f"{memory.sessions_ok}/{memory.sessions_wanted}" if memory else "-",
                ]
            )
            + " |"
        )
    return lines


def problems(rows: list[Row]) -> list[str]:
    lines: list[str] = []
    for row in rows:
        found: list[str] = []
        if row.failed is not None:
            found.append(f"failed: {row.failed}")
        for label, result in (("RETR", row.retr), ("STOR", row.stor)):
            if result is not None:
                found += [f"{label} {error}" for error in result.errors]
        if row.crowd is not None and row.crowd.errors:
            errors = row.crowd.errors
            found.append(f"clients: {len(errors)} errors, e.g. {errors[0]}")
        if row.memory is not None:
            found += [f"idle sessions: {error}" for error in row.memory.errors]
        if row.notes:
            found.append("config: " + ", ".join(row.notes))
        lines += [f"- **{row.name}**: {item}" for item in found]
    return lines


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def curl_version() -> str:
    out = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
    first = out.stdout.split()
    return first[1] if len(first) > 1 else "?"


def report(rows: list[Row], plan: Plan, quick: bool, started: float) -> str:
    now = dt.datetime.now(dt.UTC).astimezone()
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    load1, load5, _load15 = os.getloadavg()
    header = [
        "# ftpferry benchmark results",
        "",
        f"- date: {now:%Y-%m-%d %H:%M %Z}",
        f"- machine: nproc {os.cpu_count()}, {cpu_model()}, {memory_gib:.0f} GiB RAM, "
        f"Linux {platform.release()}; load average at the end {load1:.2f} (1 min), "
        f"{load5:.2f} (5 min)",
        f"- mode: {'quick' if quick else 'full'} ({time.monotonic() - started:.0f} s); "
        f"Python {platform.python_version()}, curl {curl_version()}",
        f"- RETR/STOR: one {plan.file_size // MiB} MiB file, curl in passive mode to/from "
        f"127.0.0.1, {plan.repeats} runs each; MB = 10^6 bytes",
        f"- clients: {plan.clients} ftplib clients in threads of {CLIENT_PROCESSES} Python "
        f"processes, each login + {plan.rounds} x (LIST + RETR 64 KiB) + QUIT; req/s counts "
        f"LIST and RETR; at most 32 connects wait for their greeting at once; {plan.repeats} "
        "runs, the median run (by req/s) shown",
        f"- idle sessions: {plan.sessions} logged-in control connections; memory after minus "
        "before, divided by the sessions that logged in",
        "- vs ftpferry = this server's value / ftpferry's (medians for throughput): "
        "above 1.00x is faster for MB/s and req/s, and more memory for KB",
        "",
    ]
    body = [*main_table(rows, plan), "", "Details:", "", *detail_table(rows)]
    notes = problems(rows)
    if notes:
        body += ["", "Notes:", "", *notes]
    return "\n".join(header + body) + "\n"


# -- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="256 MiB file, 50 clients, 200 idle sessions"
    )
    parser.add_argument(
        "--servers",
        default=",".join(cls.name for cls in ALL_SERVERS),
        help="comma-separated subset, in order (default: all)",
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
        help="where the temporary roots go (default: a new dir in /var/tmp)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    by_name = {cls.name: cls for cls in ALL_SERVERS}
    wanted = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        print(f"unknown server(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
        return 2
    if shutil.which("curl") is None:
        print("curl is needed (apt-get install curl)")
        return 2
    limit = raise_open_file_limit(max(4096, plan.sessions * 2 + plan.clients * 4 + 512))
    if limit < plan.sessions + 100:
        log(f"warning: open-file limit {limit} is below {plan.sessions} sessions")
    started = time.monotonic()
    base = args.workdir or Path("/var/tmp")
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ftpbench-", dir=base))
    workdir.chmod(0o755)  # the daemons' session processes run as the bench user
    password = "Fb-" + secrets.token_urlsafe(12)
    rows: list[Row] = []
    try:
        files_dir = workdir / "files"
        files_dir.mkdir()
        big = files_dir / "big.bin"
        small = files_dir / "small.bin"
        log(f"writing {plan.file_size // MiB} MiB test file in {workdir}")
        make_file(big, plan.file_size)
        make_file(small, plan.small_size)
        for index, name in enumerate(wanted):
            rows.append(
                bench_server(
                    by_name[name], plan, workdir, [big, small], password, 20000 + 1000 * index
                )
            )
    finally:
        if os.geteuid() == 0:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["usermod", "--lock", BENCH_USER], capture_output=True, check=False)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(rows, plan, args.quick, started)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
