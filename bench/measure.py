"""The four measurements, each bounded in count and in time, loopback only.

* :func:`transfer_throughput` -- RETR or STOR of one big file with curl
  (passive mode), repeated; MB/s as curl reports it (1 MB = 10**6 bytes).
* :func:`concurrent_clients` -- N ftplib clients in threads, each logging in
  and doing LIST + RETR of a small file ``rounds`` times, then QUIT.
* :func:`idle_session_memory` -- N logged-in idle control connections;
  the server's memory before and after, per session.

The server's CPU time (user + system, over its process tree) is taken
around each measurement too, to tell "slow because busy" from "slow
because waiting".
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import multiprocessing
import os
import queue
import resource
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import FtpServer, process_tree

__all__ = [
    "ConcurrencyResult",
    "MemoryResult",
    "ThroughputResult",
    "concurrent_clients",
    "idle_session_memory",
    "make_file",
    "raise_open_file_limit",
    "transfer_throughput",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: At most this many connections wait for their 220 greeting at once. A burst of
#: hundreds of SYNs overflows a small listen backlog (vsftpd listens with 32):
#: with SYN cookies the client's connect() succeeds but the server never sees
#: the connection, and the client, waiting for a greeting, hangs until timeout.
CONNECT_GATE = 32
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- helpers ----------------------------------------------------------------------------


def make_file(path: Path, size: int) -> None:
    """Write ``size`` bytes of incompressible data quickly: one random MiB, repeated."""
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        remaining = size
        while remaining > 0:
            remaining -= handle.write(block[: min(len(block), remaining)])
    path.chmod(0o644)


def raise_open_file_limit(wanted: int) -> int:
    """Lift RLIMIT_NOFILE's soft limit towards ``wanted``; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _own_cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # stat fields 14 and 15 (1-based)


class CpuSampler:
    """CPU time used by a process tree while the ``with`` block runs.

    Forking servers' session processes come and go, and their CPU does not
    reliably reach the master's cutime (vsftpd's sessions are two processes,
    for one), so the tree is sampled every ``interval`` seconds and each
    process's own utime + stime is followed while it lives.  What a process
    uses in its last ``interval`` before exiting is missed.
    """

    def __init__(self, pid: int, *, tree: bool, interval: float = 0.05) -> None:
        self.pid = pid
        self.tree = tree
        self.interval = interval
        self.seconds = 0.0
        #: CPU the sampling itself cost this (the harness) process.
        self.own_seconds = 0.0
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cpu-sampler")

    def _sample(self, *, initial: bool = False) -> None:
        for member in process_tree(self.pid) if self.tree else [self.pid]:
            ticks = _own_cpu_ticks(member)
            if ticks is None:
                continue
            self._first.setdefault(member, ticks if initial else 0)
            self._last[member] = ticks

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
        self.own_seconds = time.thread_time()

    def __enter__(self) -> CpuSampler:
        self._sample(initial=True)
        if self.tree:  # one process: its counters at the start and the end suffice
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self.tree:
            self._thread.join()
        self._sample()
        ticks = sum(self._last[pid] - self._first[pid] for pid in self._last)
        self.seconds = max(0, ticks) / CLOCK_TICKS


@dataclass(frozen=True)
class Memory:
    """Memory of a set of processes, in KiB."""

    rss_kb: int
    pss_kb: int
    processes: int


def memory_of(pid: int, *, tree: bool) -> Memory:
    """VmRSS and PSS of ``pid`` (and, with ``tree``, of all its descendants), summed."""
    pids = process_tree(pid) if tree else [pid]
    rss = pss = count = 0
    for member in pids:
        try:
            status = Path(f"/proc/{member}/status").read_text()
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        count += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
    return Memory(rss_kb=rss, pss_kb=pss, processes=count)


# -- 1 and 2: throughput with curl ------------------------------------------------------


@dataclass
class ThroughputResult:
    """Repeated transfers of one file; MB/s of each successful run."""

    direction: str
    speeds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0
    bytes_moved: int = 0

    @property
    def best(self) -> float | None:
        return max(self.speeds) if self.speeds else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.speeds) if self.speeds else None

    @property
    def cpu_per_gib(self) -> float | None:
        """Server CPU seconds per GiB moved."""
        return self.server_cpu_s / (self.bytes_moved / (1 << 30)) if self.bytes_moved else None


def transfer_throughput(
    server: FtpServer,
    direction: str,
    big_file: Path,
    repeats: int,
    timeout: float,
) -> ThroughputResult:
    """RETR (``big_file``'s name from the server root) or STOR (``big_file`` uploaded)."""
    result = ThroughputResult(direction=direction)
    size = big_file.stat().st_size
    for attempt in range(repeats):
        os.sync()  # start each run with no dirty pages pending from the last one
        if direction == "RETR":
            argv = [
                "curl",
                "-s",
                "-S",
                "--ftp-pasv",
                "-o",
                "/dev/null",
                "-w",
                "%{speed_download} %{size_download}",
                server.url + big_file.name,
            ]
        else:
            target = f"upload-{attempt}.bin"
            argv = [
                "curl",
                "-s",
                "-S",
                "--ftp-pasv",
                "-T",
                str(big_file),
                "-w",
                "%{speed_upload} %{size_upload}",
                server.url + target,
            ]
        sampler = CpuSampler(server.pid, tree=server.multi_process)
        try:
            with sampler:
                done = subprocess.run(
                    [*argv, "--max-time", str(int(timeout))],
                    capture_output=True,
                    text=True,
                    timeout=timeout + 15,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            result.errors.append(f"run {attempt + 1}: curl did not finish in {timeout:.0f}s")
            continue
        finally:
            result.server_cpu_s += sampler.seconds
            if direction == "STOR":
                with contextlib.suppress(OSError):
                    (server.root / f"upload-{attempt}.bin").unlink()
        fields = done.stdout.split()
        if done.returncode != 0 or len(fields) != 2:
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
            result.errors.append(f"run {attempt + 1}: curl exit {done.returncode}: {reason}")
            continue
        speed, moved = float(fields[0]), int(float(fields[1]))
        result.bytes_moved += moved
        if moved != size:
            result.errors.append(f"run {attempt + 1}: moved {moved} of {size} bytes")
            continue
        result.speeds.append(speed / 1e6)
    return result


# -- 3: many concurrent clients ---------------------------------------------------------


@dataclass
class ConcurrencyResult:
    clients: int
    rounds: int
    wall_s: float = 0.0
    requests_ok: int = 0
    clients_ok: int = 0
    errors: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def requests_per_s(self) -> float | None:
        return self.requests_ok / self.wall_s if self.wall_s > 0 and self.requests_ok else None


def _one_client(
    server: FtpServer,
    small_name: str,
    small_size: int,
    rounds: int,
    timeout: float,
    go: threading.Event,
    connect_gate: threading.Semaphore,
    result: ConcurrencyResult,
    lock: threading.Lock,
) -> None:
    go.wait()
    done = 0
    step = "connect"
    try:
        with ftplib.FTP(timeout=timeout) as ftp:
            with connect_gate:
                ftp.connect(server.host, server.port)  # returns after the 220 greeting
            step = "login"
            ftp.login(server.user, server.password)
            ftp.set_pasv(True)
            for index in range(rounds):
                step = f"LIST {index + 1}"
                lines: list[str] = []
                ftp.retrlines("LIST", lines.append)
                if not any(small_name in line for line in lines):
                    raise RuntimeError(f"LIST lacks {small_name}")
                done += 1
                step = f"RETR {index + 1}"
                received = 0

                def count(chunk: bytes) -> None:
                    nonlocal received
                    received += len(chunk)

                ftp.retrbinary(f"RETR {small_name}", count)
                if received != small_size:
                    raise RuntimeError(f"RETR got {received} of {small_size} bytes")
                done += 1
            step = "QUIT"
            ftp.quit()
        with lock:
            result.requests_ok += done
            result.clients_ok += 1
    except (OSError, EOFError, ftplib.Error, RuntimeError) as exc:
        with lock:
            result.requests_ok += done
            result.errors.append(f"at {step}: {type(exc).__name__}: {exc}"[:160])


CLIENT_PROCESSES = 4
"""The crowd's client threads are spread over this many processes.  In one
process, 200 ftplib threads spend their time handing the GIL to each other:
the client process then used twice the CPU against one server as against
another, depending on how many replies arrived at once, and the test measured
the harness more than the server."""


def _client_process(
    server: FtpServer,
    small_name: str,
    size: int,
    clients: int,
    rounds: int,
    timeout: float,
    deadline: float,
    go: Any,
    results: Any,
) -> None:
    """One worker process: ``clients`` threads, released by ``go``; reports on ``results``."""
    result = ConcurrencyResult(clients=clients, rounds=rounds)
    start = threading.Event()
    connect_gate = threading.Semaphore(max(1, CONNECT_GATE // CLIENT_PROCESSES))
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=_one_client,
            args=(server, small_name, size, rounds, timeout, start, connect_gate, result, lock),
            daemon=True,
        )
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    go.wait(deadline)
    start.set()
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        result.errors.append(f"{stuck} clients still running after {deadline:.0f}s")
    results.put((time.monotonic(), result.requests_ok, result.clients_ok, result.errors))


def concurrent_clients(
    server: FtpServer,
    small_file: Path,
    clients: int,
    rounds: int,
    timeout: float,
    deadline: float,
) -> ConcurrencyResult:
    """``clients`` threads in :data:`CLIENT_PROCESSES` processes start together;
    wall time until the last one is done (``CLOCK_MONOTONIC`` is one clock for all)."""
    result = ConcurrencyResult(clients=clients, rounds=rounds)
    context = multiprocessing.get_context("fork")
    go = context.Event()
    results = context.Queue()
    shares = [
        clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
        for i in range(CLIENT_PROCESSES)
    ]
    workers = [
        context.Process(
            target=_client_process,
            args=(
                server,
                small_file.name,
                small_file.stat().st_size,
                share,
                rounds,
                timeout,
                deadline,
                go,
                results,
            ),
            daemon=True,
        )
        for share in shares
        if share
    ]
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # every thread started and waiting, so the start is together
    sampler = CpuSampler(server.pid, tree=server.multi_process)
    with sampler:
        started = time.monotonic()
        go.set()
        finished = started
        for _ in workers:
            try:
                ended, requests_ok, clients_ok, errors = results.get(timeout=deadline + 30)
            except queue.Empty:
                result.errors.append(f"a client process did not report in {deadline:.0f}s")
                break
            finished = max(finished, ended)
            result.requests_ok += requests_ok
            result.clients_ok += clients_ok
            result.errors += errors
        result.wall_s = finished - started
    for worker in workers:
        worker.join(10)
        if worker.is_alive():
            worker.kill()
            worker.join()
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.server_cpu_s = sampler.seconds
    result.client_cpu_s = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    return result


def median_run(runs: list[ConcurrencyResult]) -> ConcurrencyResult:
    """The run with the median requests per second (failed runs count as slowest)."""
    ranked = sorted(runs, key=lambda run: run.requests_per_s or 0.0)
    return ranked[(len(ranked) - 1) // 2]


# -- 4: memory per idle logged-in session -----------------------------------------------


@dataclass
class MemoryResult:
    sessions_wanted: int
    sessions_ok: int = 0
    before: Memory | None = None
    after: Memory | None = None
    tree: bool = False
    errors: list[str] = field(default_factory=list)

    def per_session_kb(self, kind: str) -> float | None:
        if self.before is None or self.after is None or not self.sessions_ok:
            return None
        delta = getattr(self.after, kind) - getattr(self.before, kind)
        return float(delta) / self.sessions_ok


async def _read_reply(reader: asyncio.StreamReader) -> str:
    """One FTP reply, following multi-line ``123-`` ... ``123 `` replies."""
    first = (await reader.readline()).decode("latin-1")
    if not first:
        raise ConnectionError("connection closed")
    if len(first) >= 4 and first[3] == "-":
        code = first[:3]
        while True:
            line = (await reader.readline()).decode("latin-1")
            if not line:
                raise ConnectionError("connection closed")
            if line.startswith(code + " "):
                break
    return first


async def _open_session(
    server: FtpServer, timeout: float, gate: asyncio.Semaphore
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with gate:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(server.host, server.port), timeout
        )
        try:
            for command, expected in (
                (None, "220"),
                (f"USER {server.user}", "331"),
                (f"PASS {server.password}", "230"),
            ):
                if command is not None:
                    writer.write(f"{command}\r\n".encode())
                    await writer.drain()
                reply = await asyncio.wait_for(_read_reply(reader), timeout)
                if not reply.startswith(expected):
                    raise ConnectionError(f"expected {expected}, got {reply.strip()[:80]!r}")
        except BaseException:
            writer.close()
            raise
        return reader, writer


async def _idle_sessions(
    server: FtpServer, count: int, timeout: float, settle: float, result: MemoryResult
) -> None:
    gate = asyncio.Semaphore(CONNECT_GATE)  # log in a few at a time, not 1000 at once
    tasks = [asyncio.create_task(_open_session(server, timeout, gate)) for _ in range(count)]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    sessions = [item for item in outcomes if isinstance(item, tuple)]
    failures = [item for item in outcomes if isinstance(item, BaseException)]
    result.sessions_ok = len(sessions)
    if failures:
        first = failures[0]
        result.errors.append(
            f"{len(failures)} logins failed, e.g. {type(first).__name__}: {first}"[:200]
        )
    await asyncio.sleep(settle)  # let forks finish and lazily-built state settle
    result.after = memory_of(server.pid, tree=result.tree)
    for _reader, writer in sessions:
        with contextlib.suppress(OSError):
            writer.write(b"QUIT\r\n")
        writer.close()
    await asyncio.gather(
        *(writer.wait_closed() for _reader, writer in sessions), return_exceptions=True
    )


def _warm_up(server: FtpServer, timeout: float) -> None:
    """One login, LIST and QUIT, so lazy imports and caches count as 'before'."""
    with ftplib.FTP(timeout=timeout) as ftp:
        ftp.connect(server.host, server.port)
        ftp.login(server.user, server.password)
        ftp.retrlines("LIST", lambda _line: None)
        ftp.quit()


def idle_session_memory(
    server: FtpServer, count: int, timeout: float, settle: float = 2.0
) -> MemoryResult:
    """Open ``count`` logged-in sessions; the server's memory per session."""
    result = MemoryResult(sessions_wanted=count, tree=server.multi_process)
    try:
        _warm_up(server, timeout)
    except (OSError, EOFError, ftplib.Error) as exc:
        result.errors.append(f"warm-up failed: {exc}")
        return result
    time.sleep(settle)
    result.before = memory_of(server.pid, tree=result.tree)
    try:
        asyncio.run(
            asyncio.wait_for(
                _idle_sessions(server, count, timeout, settle, result), timeout * 4 + 120
            )
        )
    except TimeoutError:
        result.errors.append("memory test did not finish in time")
    return result
