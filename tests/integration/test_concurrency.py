"""Many clients at once: 50 ftplib sessions, half passive and half active.

Each client uploads its own ~1 MB random file and downloads it back while
the others do the same, so the server must keep 50 data connections, the
passive port pool and the PORT connections apart.  Checksums are compared
on the client (what came back) and on disk (what was stored).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, free_passive_range, start_server
from tests.integration.support import ftp_login, log_tail, random_bytes, sha256, sha256_file

pytestmark = pytest.mark.integration

CLIENTS = 50
OVERALL_TIMEOUT = 180.0


@dataclass(frozen=True)
class Outcome:
    """What one client saw: the digest it uploaded and the digest it got back."""

    name: str
    passive: bool
    sent_sha256: str
    received_sha256: str
    size: int


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with a 120-port passive range, so 25 passive clients never run short."""
    server = start_server(tmp_path, "--passive-ports", free_passive_range(120))
    yield server
    server.stop()


def one_client(
    server: ServerProcess, index: int, start: threading.Barrier, round_number: int = 0
) -> Outcome:
    """Upload a distinct random file, download it back, report both digests."""
    passive = index % 2 == 0
    name = f"r{round_number}-client-{index:02d}-{'pasv' if passive else 'port'}.bin"
    payload = random_bytes(1_000_000 + index * 997, name)
    try:
        ftp = ftp_login(server, passive=passive, timeout=60)
    except BaseException:
        start.abort()  # the others must not wait for a client that never comes
        raise
    try:
        start.wait(timeout=60)  # every client logged in: now all transfer together
        ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
        digest = hashlib.sha256()
        ftp.retrbinary(f"RETR {name}", digest.update)
        ftp.quit()
    finally:
        ftp.close()
    return Outcome(name, passive, sha256(payload), digest.hexdigest(), len(payload))


def run_round(server: ServerProcess, round_number: int) -> list[Outcome]:
    """50 clients at once; every one must finish within OVERALL_TIMEOUT and succeed."""
    start = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(one_client, server, i, start, round_number) for i in range(CLIENTS)]
        done, pending = wait(futures, timeout=OVERALL_TIMEOUT)
        for future in pending:
            future.cancel()
        start.abort()  # release anyone still waiting if a client died before the barrier
    assert not pending, f"{len(pending)} clients still running after {OVERALL_TIMEOUT} s"
    errors = [repr(f.exception()) for f in done if f.exception() is not None]
    assert not errors, f"{len(errors)} clients failed: {errors[:5]}\n{log_tail(server)}"
    return [f.result() for f in futures]


def check_outcomes(server: ServerProcess, outcomes: list[Outcome]) -> None:
    """Every client got back what it sent, and the disk holds exactly that."""
    assert sum(o.passive for o in outcomes) == CLIENTS // 2
    for outcome in outcomes:
        assert outcome.received_sha256 == outcome.sent_sha256, outcome.name
        stored = server.root / outcome.name
        assert stored.stat().st_size == outcome.size, outcome.name
        assert sha256_file(stored) == outcome.sent_sha256, outcome.name


def test_fifty_clients_upload_and_download(busy_server: ServerProcess) -> None:
    check_outcomes(busy_server, run_round(busy_server, 0))
    assert len(list(busy_server.root.iterdir())) == CLIENTS
    assert busy_server.alive()


def test_passive_ports_are_recycled(busy_server: ServerProcess) -> None:
    """Three rounds open 150 passive listeners on 120 ports: each must be given back."""
    for round_number in range(3):
        check_outcomes(busy_server, run_round(busy_server, round_number))
    assert len(list(busy_server.root.iterdir())) == 3 * CLIENTS
    assert busy_server.alive()
