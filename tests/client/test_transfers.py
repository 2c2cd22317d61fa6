"""Transfers: resume after a real interruption, ASCII mode, progress, keep-alive NOOPs."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ftpferry.client import ConnectionLost, PermanentError, ProgressCallback

from .conftest import MODES, Remote, client_for, start_ftpferry

pytestmark = pytest.mark.integration


class Interrupted(Exception):
    """Raised by a progress callback to cut a transfer short, like Ctrl+C would."""


def _interrupt_after(limit: int) -> ProgressCallback:
    def progress(done: int, total: int | None) -> None:
        if done >= limit:
            raise Interrupted(f"stopped at {done} of {total}")

    return progress


def test_resume_download_after_interruption(remote: Remote, mode: str, tmp_path: Path) -> None:
    payload = os.urandom(12 * 1024 * 1024)
    remote.put("big.bin", payload)
    local = tmp_path / "big.bin"
    with client_for(remote, mode) as ftp:
        with pytest.raises(Interrupted):
            ftp.download("big.bin", local, progress=_interrupt_after(2 * 1024 * 1024))
        partial = local.stat().st_size
        assert 0 < partial < len(payload)
        assert local.read_bytes() == payload[:partial]
        assert ftp.connected and ftp.pwd() == "/"  # the control connection survived

        seen: list[tuple[int, int | None]] = []
        result = ftp.download(
            "big.bin", local, resume=True, progress=lambda d, t: seen.append((d, t))
        )
        assert result.offset == partial
        assert result.transferred == len(payload) - partial
        assert local.read_bytes() == payload
        assert seen[-1] == (len(payload), len(payload))
        assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))

        again = ftp.download("big.bin", local, resume=True)
        assert again.skipped and again.transferred == 0


def test_upload_from_a_pipe(remote: Remote, mode: str) -> None:
    """A pipe has a descriptor but sendfile refuses it (EINVAL): it is read and sent."""
    payload = os.urandom(3 * 1024 * 1024 + 17)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with os.fdopen(read_end, "rb") as stream, client_for(remote, mode) as ftp:
            result = ftp.upload(stream, "piped.bin")
    finally:
        writer.join(30)
    remote.chown()
    assert result.transferred == len(payload)
    assert (remote.root / "piped.bin").read_bytes() == payload


def test_resume_upload_after_interruption(remote: Remote, mode: str, tmp_path: Path) -> None:
    payload = os.urandom(40 * 1024 * 1024)
    local = tmp_path / "up.bin"
    local.write_bytes(payload)
    with client_for(remote, mode) as ftp:
        with pytest.raises(Interrupted):
            ftp.upload(local, "up.bin", progress=_interrupt_after(1))
        remote.chown()
        partial = ftp.size("up.bin")
        assert 0 < partial < len(payload)
        assert ftp.pwd() == "/"

        result = ftp.upload(local, "up.bin", resume=True)
        assert result.offset == partial
        assert result.transferred == len(payload) - partial
        assert (remote.root / "up.bin").read_bytes() == payload

        again = ftp.upload(local, "up.bin", resume=True)
        assert again.skipped


def test_resume_from_stream_and_offsets(remote: Remote, mode: str, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4000
    remote.put("data.bin", payload)
    with client_for(remote, mode) as ftp:
        tail = io.BytesIO()
        result = ftp.download("data.bin", tail, offset=1000)
        assert tail.getvalue() == payload[1000:]
        assert result.offset == 1000

        # A local file longer than the remote one is not a prefix: start over.
        local = tmp_path / "data.bin"
        local.write_bytes(b"z" * (len(payload) + 10))
        ftp.download("data.bin", local, resume=True)
        assert local.read_bytes() == payload

        ftp.upload(io.BytesIO(payload[:5000]), "half.bin")
        remote.chown()
        stream = io.BytesIO(payload)
        result = ftp.upload(stream, "half.bin", resume=True)
        assert result.offset == 5000
        assert (remote.root / "half.bin").read_bytes() == payload


def test_ascii_mode_converts_line_ends(remote: Remote, mode: str) -> None:
    text = b"first line\nsecond line\n\nlast line without end"
    remote.put("text.txt", text)
    with client_for(remote, mode) as ftp:
        received = io.BytesIO()
        result = ftp.download("text.txt", received, ascii_mode=True)
        assert received.getvalue() == text
        # On the wire every LF travelled as CRLF.
        assert result.transferred == len(text) + text.count(b"\n")

        binary = io.BytesIO()
        ftp.download("text.txt", binary)
        assert binary.getvalue() == text  # binary mode after ASCII: TYPE I again

        result = ftp.upload(io.BytesIO(text), "up.txt", ascii_mode=True)
        assert (remote.root / "up.txt").read_bytes() == text
        assert result.transferred == len(text)  # counted in local bytes
        with pytest.raises(ValueError, match="ASCII"):
            ftp.download("text.txt", io.BytesIO(), ascii_mode=True, offset=3)


def test_keepalive_noops_during_transfers(remote: Remote, mode: str, tmp_path: Path) -> None:
    payload = os.urandom(6 * 1024 * 1024)
    remote.put("slow.bin", payload)
    local = tmp_path / "slow.bin"

    def slowly(done: int, total: int | None) -> None:
        time.sleep(0.03)

    with client_for(remote, mode, keepalive=0.05) as ftp:
        result = ftp.download("slow.bin", local, progress=slowly)
        assert local.read_bytes() == payload
        assert result.keepalives >= 1
        assert result.reply is not None and result.reply.code == 226
        # The NOOP replies were consumed: the next replies match their commands.
        assert ftp.pwd() == "/"
        assert ftp.size("slow.bin") == len(payload)

        stream = io.BytesIO(payload)
        result = ftp.upload(stream, "slow-up.bin", progress=slowly)
        assert result.keepalives >= 1
        assert result.reply is not None and result.reply.code == 226
        assert ftp.quote("SYST").code == 215
        assert "slow-up.bin" in ftp.listdir().names()
    assert (remote.root / "slow-up.bin").read_bytes() == payload


@pytest.mark.parametrize("mode", MODES)
def test_large_file_integrity(ftpferry: Remote, mode: str, tmp_path: Path) -> None:
    payload = os.urandom(64 * 1024 * 1024)
    local = tmp_path / "in.bin"
    local.write_bytes(payload)
    with client_for(ftpferry, mode) as ftp:
        ftp.upload(local, "big.bin")
        ftp.download("big.bin", tmp_path / "out.bin")
        into_stream = io.BytesIO()
        ftp.download("big.bin", into_stream)
    digest = hashlib.sha256(payload).hexdigest()
    assert hashlib.sha256((ftpferry.root / "big.bin").read_bytes()).hexdigest() == digest
    assert hashlib.sha256((tmp_path / "out.bin").read_bytes()).hexdigest() == digest
    assert hashlib.sha256(into_stream.getvalue()).hexdigest() == digest


def test_failed_download_leaves_the_local_file_alone(remote: Remote, tmp_path: Path) -> None:
    local = tmp_path / "precious.txt"
    local.write_bytes(b"do not truncate me")
    with client_for(remote, "passive") as ftp:
        with pytest.raises(PermanentError):
            ftp.download("missing.txt", local)
        assert local.read_bytes() == b"do not truncate me"

        remote.put("real.txt", b"real")
        with pytest.raises(IsADirectoryError):  # a local error stays a local error
            ftp.download("real.txt", tmp_path)
        assert ftp.pwd() == "/"


def test_server_killed_mid_download(tmp_path: Path) -> None:
    server = start_ftpferry(tmp_path)
    payload = os.urandom(64 * 1024 * 1024)
    server.put("big.bin", payload)
    local = tmp_path / "big.bin"

    def kill_server(done: int, total: int | None) -> None:
        assert server.ftpferry is not None
        if server.ftpferry.process.poll() is None:
            server.ftpferry.process.send_signal(signal.SIGKILL)
            server.ftpferry.process.wait()

    try:
        with client_for(server, "passive") as ftp:
            with pytest.raises(ConnectionLost):
                ftp.download("big.bin", local, progress=kill_server)
            assert not ftp.connected
        partial = local.read_bytes()
        assert len(partial) < len(payload) and payload.startswith(partial)
    finally:
        server.stop()
