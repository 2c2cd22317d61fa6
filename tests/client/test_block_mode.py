"""The client in block mode (``block_mode=True``): one data connection for a
session's transfers where the server takes MODE B, stream mode where not.

The dialogue is read from the client's own debug log, so the tests see
which commands went out: one EPSV (or EPRT) for many transfers is the
point of block mode.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpferry.client import FTPClient, PermanentError

from .conftest import Remote, start_pyftpdlib

pytestmark = pytest.mark.integration


def sent(caplog: pytest.LogCaptureFixture, verb: str) -> int:
    """How many ``verb`` commands the client sent."""
    return sum(
        1
        for record in caplog.records
        if record.name == "ftpferry.client" and record.getMessage().startswith(f"-> {verb}")
    )


def block_client(remote: Remote, mode: str) -> FTPClient:
    return FTPClient.from_url(remote.url(), mode=mode, block_mode=True)  # type: ignore[arg-type]


def test_every_transfer_shares_one_data_connection(
    ftpferry: Remote, mode: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="ftpferry.client")
    contents = {f"f{index}.bin": os.urandom(index * 70_000) for index in range(4)}
    with block_client(ftpferry, mode) as client:
        # A listing first proves block mode (an upload first would prove it by
        # SIZE, on a connection then closed: see the lying server below).
        assert list(client.listdir()) == []
        for name, data in contents.items():
            client.upload(io.BytesIO(data), name)
        assert sorted(entry.name for entry in client.listdir()) == sorted(contents)
        for name, data in contents.items():
            result = client.download(name, tmp_path / name)
            assert (tmp_path / name).read_bytes() == data
            assert result.reply is not None and result.reply.code == 250
        with pytest.raises(PermanentError, match="550"):
            client.download("missing.bin", tmp_path / "missing.bin")
        partial = tmp_path / "partial.bin"
        partial.write_bytes(contents["f3.bin"][:1000])
        client.download("f3.bin", partial, resume=True)  # REST over the kept connection
        assert partial.read_bytes() == contents["f3.bin"]
    for name, data in contents.items():
        assert (ftpferry.root / name).read_bytes() == data
    opened = sent(caplog, "EPSV") + sent(caplog, "EPRT")
    assert (sent(caplog, "MODE B"), opened) == (1, 1), caplog.text


def test_a_kept_connection_the_server_closed_is_replaced(
    ftpferry: Remote, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="ftpferry.client")
    ftpferry.put("a.txt", b"alpha")
    with block_client(ftpferry, "passive") as client:
        client.download("a.txt", tmp_path / "one")
        # ABOR with no transfer running closes the data connection (RFC 959);
        # the client does not track it, and must notice the closed socket.
        assert client.quote("ABOR").code in {225, 226}
        client.download("a.txt", tmp_path / "two")
        assert client.quote("MODE S").code == 200  # by hand: stream from now on
        client.download("a.txt", tmp_path / "three")
    assert [(tmp_path / name).read_bytes() for name in ("one", "two", "three")] == [b"alpha"] * 3
    assert sent(caplog, "EPSV") == 3, caplog.text


def test_servers_without_block_mode_get_stream_mode(
    remote: Remote, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="ftpferry.client")
    remote.put("a.txt", b"alpha")
    remote.put("b.txt", b"beta")
    with block_client(remote, "passive") as client:
        client.download("a.txt", tmp_path / "a.txt")
        client.download("b.txt", tmp_path / "b.txt")
        client.upload(io.BytesIO(b"gamma"), "c.txt")
    assert (tmp_path / "a.txt").read_bytes() == b"alpha"
    assert (tmp_path / "b.txt").read_bytes() == b"beta"
    assert (remote.root / "c.txt").read_bytes() == b"gamma"
    assert sent(caplog, "MODE B") == 1
    expected_connections = 1 if remote.name == "ftpferry" else 3
    assert sent(caplog, "EPSV") + sent(caplog, "PASV") == expected_connections, caplog.text


@pytest.fixture
def lying(tmp_path: Path) -> Iterator[Remote]:
    """pyftpdlib answering 200 to MODE B and sending stream data all the same."""
    server = start_pyftpdlib(tmp_path, "--say-mode-b")
    yield server
    server.stop()


def test_a_server_that_takes_mode_b_without_doing_it_gets_stream_mode(
    lying: Remote, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Nothing is lost: the first download or listing finds no blocks and runs
    again in stream mode; the first upload's size gives the lie away and it is
    sent again."""
    caplog.set_level(logging.DEBUG, logger="ftpferry.client")
    payload = os.urandom(100_000)
    lying.put("a.bin", payload)
    with block_client(lying, "passive") as client:  # a download first
        client.download("a.bin", tmp_path / "a.bin")
        assert (tmp_path / "a.bin").read_bytes() == payload
        client.upload(io.BytesIO(payload[:5000]), "b.bin")
        assert [entry.name for entry in client.listdir()] == ["a.bin", "b.bin"]
    assert (lying.root / "b.bin").read_bytes() == payload[:5000]
    with block_client(lying, "passive") as client:  # an upload first
        client.upload(io.BytesIO(payload), "c.bin")
        assert sorted(client.nlst()) == ["a.bin", "b.bin", "c.bin"]
    assert (lying.root / "c.bin").read_bytes() == payload
    assert sent(caplog, "MODE S") == 2, caplog.text
    assert "accepted MODE B but sends no blocks" in caplog.text
    assert "accepted MODE B but stored the blocks" in caplog.text


def test_ascii_and_appended_uploads_in_block_mode(
    ftpferry: Remote, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="ftpferry.client")
    text = b"one\ntwo\nthree\n" * 10_000  # LF here, CRLF on the wire, in blocks
    with block_client(ftpferry, "passive") as client:
        list(client.listdir())  # proves block mode
        client.upload(io.BytesIO(text), "text.txt", ascii_mode=True)
        assert (ftpferry.root / "text.txt").read_bytes() == text  # the server stores LF
        client.download("text.txt", tmp_path / "text.txt", ascii_mode=True)
        assert (tmp_path / "text.txt").read_bytes() == text
        ftpferry.put("grow.bin", text[:1000])
        local = tmp_path / "grow.bin"
        local.write_bytes(text)
        client.upload(local, "grow.bin", resume=True)  # SIZE, then APPE of the rest
    assert (ftpferry.root / "grow.bin").read_bytes() == text
    assert sent(caplog, "APPE") == 1
    assert sent(caplog, "EPSV") == 1, caplog.text
