"""Measure ftpferry's client against lftp and curl on loopback (not a test).

Usage::

    .venv/bin/python -m tests.client.measure_throughput [--size-mib 1024] [--runs 3]

Starts a real ``ftpferry serve`` with its root in /dev/shm (so the disk is
not what is measured), makes a file of the given size, and times a
download and an upload of it with ``FTPClient`` (passive, and active), with
``lftp`` and with ``curl``; prints the best and the median of ``--runs`` in MB/s
(10^6 bytes per second) and the median.  Every run's copy is checked by size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ftpferry.client import FTPClient, Mode
from tests.conftest import PASSWORD, USER, have, start_server


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class _client:
    """Connect, run one operation, close: ``_client(url, mode).download(...)``."""

    def __init__(self, url: str, mode: Mode) -> None:
        self.url = url
        self.mode = mode

    def download(self, remote: str, local: Path) -> None:
        with FTPClient.from_url(self.url, mode=self.mode) as ftp:
            ftp.download(remote, local)

    def upload(self, local: Path, remote: str) -> None:
        with FTPClient.from_url(self.url, mode=self.mode) as ftp:
            ftp.upload(local, remote)


def main() -> None:
    """Run the measurements and print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ffbench-", dir="/dev/shm"))
    try:
        server = start_server(base)
        try:
            _measure(server.port, server.root, base / "local", args.size_mib, args.runs)
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _measure(port: int, root: Path, local: Path, size_mib: int, runs: int) -> None:
    local.mkdir()
    size = size_mib * 1024 * 1024
    source = local / "source.bin"
    with source.open("wb") as file:
        block = os.urandom(1024 * 1024)
        for _ in range(size_mib):
            file.write(block)
    shutil.copyfile(source, root / "big.bin")
    url = f"ftp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}"
    target = local / "copy.bin"
    results: dict[str, list[float]] = {}

    def record(name: str, action: Callable[[], object], check: Path) -> None:
        check.unlink(missing_ok=True)
        seconds = _timed(action)
        if check.stat().st_size != size:
            raise RuntimeError(f"{name}: copy has {check.stat().st_size} bytes, not {size}")
        results.setdefault(name, []).append(seconds)

    for _ in range(runs):
        for mode in ("passive", "active"):
            # Connecting and logging in is timed too, as it is for lftp and curl.
            client = _client(url, mode)
            record(
                f"ftpferry client {mode} get", partial(client.download, "big.bin", target), target
            )
            record(
                f"ftpferry client {mode} put",
                partial(client.upload, source, "up.bin"),
                root / "up.bin",
            )
        if have("lftp"):
            opener = f"set cmd:fail-exit yes; open -u {USER},'{PASSWORD}' -p {port} 127.0.0.1"
            record(
                "lftp get",
                lambda: subprocess.run(
                    ["lftp", "-c", f"{opener}; get big.bin -o {target}"], check=True
                ),
                target,
            )
            record(
                "lftp put",
                lambda: subprocess.run(
                    ["lftp", "-c", f"{opener}; put {source} -o up.bin"], check=True
                ),
                root / "up.bin",
            )
        if have("curl"):
            record(
                "curl get",
                lambda: subprocess.run(
                    ["curl", "-sS", "-o", str(target), f"{url}/big.bin"], check=True
                ),
                target,
            )
            record(
                "curl put",
                lambda: subprocess.run(
                    ["curl", "-sS", "-T", str(source), f"{url}/up.bin"], check=True
                ),
                root / "up.bin",
            )
    print(f"{size_mib} MiB on loopback, {runs} runs (MB/s = 10^6 bytes/s)")
    print(f"  {'':<32} {'best':>9} {'median':>9}")
    for name, times in results.items():
        best, median = min(times), statistics.median(times)
        print(f"  {name:<32} {size / best / 1e6:9.0f} {size / median / 1e6:9.0f}")


if __name__ == "__main__":
    main()
