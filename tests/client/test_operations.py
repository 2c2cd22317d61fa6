"""Every client operation against ftpferry, pyftpdlib and vsftpd, passive and active."""

from __future__ import annotations

import datetime
import hashlib
import io
from pathlib import Path

import pytest

from ftpferry.client import (
    EntryKind,
    FTPClient,
    PermanentError,
    ReplyError,
    UnsupportedCommand,
)

from .conftest import Remote, client_for

pytestmark = pytest.mark.integration


def test_login_pwd_and_features(remote: Remote, mode: str) -> None:
    with client_for(remote, mode) as ftp:
        assert ftp.connected
        assert ftp.session.welcome.code == 220
        assert ftp.session.password_source == "url"
        assert ftp.pwd() == "/"
        assert ("MLST" in ftp.features) == remote.supports("mlst")
    assert not ftp.connected


def test_download_and_upload_round_trip(remote: Remote, mode: str, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 5000 + b"tail"
    remote.put("blob.bin", payload)
    local = tmp_path / "blob.bin"
    with client_for(remote, mode) as ftp:
        result = ftp.download("blob.bin", local)
        assert local.read_bytes() == payload
        assert result.transferred == len(payload)
        assert result.route is not None and result.route.mode == mode
        expected = {"passive": "EPSV", "active": "EPRT"}[mode]
        assert ftp.last_data_command == expected
        assert result.reply is not None and result.reply.code == 226

        ftp.upload(local, "copy.bin")
        assert (remote.root / "copy.bin").read_bytes() == payload
        assert ftp.size("copy.bin") == len(payload)

        stream = io.BytesIO()
        ftp.download("copy.bin", stream)
        assert stream.getvalue() == payload
        ftp.upload(io.BytesIO(b"from a stream"), "stream.txt")
        assert (remote.root / "stream.txt").read_bytes() == b"from a stream"


def test_empty_file(remote: Remote, mode: str, tmp_path: Path) -> None:
    remote.put("empty", b"")
    with client_for(remote, mode) as ftp:
        ftp.download("empty", tmp_path / "empty")
        assert (tmp_path / "empty").read_bytes() == b""
        ftp.upload(io.BytesIO(b""), "empty2")
        assert ftp.size("empty2") == 0


def test_listdir(remote: Remote, mode: str) -> None:
    remote.put("a.txt", b"12345")
    remote.mkdir("sub dir")
    remote.put("sub dir/inner.bin", b"x" * 10)
    with client_for(remote, mode) as ftp:
        listing = ftp.listdir()
        assert listing.source == ("MLSD" if remote.supports("mlst") else "LIST")
        assert listing.unparsed == ()
        assert sorted(listing.names()) == ["a.txt", "sub dir"]
        entry = listing.get("a.txt")
        assert entry is not None
        assert entry.kind is EntryKind.FILE and entry.size == 5
        assert entry.modify is not None
        now = datetime.datetime.now(datetime.UTC)
        assert abs((now - entry.modify).total_seconds()) < 3600 * 25
        directory = listing.get("sub dir")
        assert directory is not None and directory.is_dir
        assert ftp.listdir("sub dir").names() == ["inner.bin"]


def test_stat(remote: Remote, mode: str) -> None:
    remote.put("f.dat", b"abc")
    remote.mkdir("d")
    with client_for(remote, mode) as ftp:
        entry = ftp.stat("f.dat")
        assert entry.name == "f.dat" and entry.is_file and entry.size == 3
        assert entry.modify is not None
        directory = ftp.stat("d")
        assert directory.name == "d" and directory.is_dir
        with pytest.raises(PermanentError) as caught:
            ftp.stat("missing")
        assert caught.value.code == 550
        assert ftp.pwd() == "/"  # a LIST-only stat may CWD to probe, and must come back


def test_namespace_operations(remote: Remote, mode: str) -> None:
    remote.put("one.txt", b"1")
    with client_for(remote, mode) as ftp:
        created = ftp.mkdir("new dir")
        assert created.rstrip("/").endswith("new dir")
        assert (remote.root / "new dir").is_dir()
        ftp.cwd("new dir")
        assert ftp.pwd() == "/new dir"
        ftp.cwd("/")
        ftp.rename("one.txt", "new dir/two.txt")
        assert (remote.root / "new dir" / "two.txt").read_bytes() == b"1"
        ftp.remove("new dir/two.txt")
        assert not (remote.root / "new dir" / "two.txt").exists()
        ftp.rmdir("new dir")
        assert not (remote.root / "new dir").exists()


def test_errors_carry_codes_and_commands(remote: Remote, mode: str, tmp_path: Path) -> None:
    with client_for(remote, mode) as ftp:
        with pytest.raises(PermanentError) as caught:
            ftp.download("does-not-exist", tmp_path / "x")
        error = caught.value
        assert error.code == 550
        assert error.command == "RETR does-not-exist"
        assert error.expected == (125, 150)
        with pytest.raises(ReplyError) as caught_rmdir:
            ftp.rmdir("no-such-dir")
        assert caught_rmdir.value.code // 100 == 5
        assert ftp.pwd() == "/"  # the session goes on


def test_mtime_and_set_mtime(remote: Remote, mode: str) -> None:
    remote.put("t.txt", b"time")
    when = datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
    with client_for(remote, mode) as ftp:
        before = ftp.mtime("t.txt")
        assert before.tzinfo is not None
        if not remote.supports("mfmt"):
            with pytest.raises(UnsupportedCommand):
                ftp.set_mtime("t.txt", when)
            return
        ftp.set_mtime("t.txt", when)
        assert ftp.mtime("t.txt") == when
        assert (remote.root / "t.txt").stat().st_mtime == when.timestamp()


def test_quote(remote: Remote, mode: str) -> None:
    with client_for(remote, mode) as ftp:
        assert ftp.quote("NOOP").code == 200
        assert ftp.quote("SYST").code == 215
        reply = ftp.quote("NOSUCHCOMMAND")
        assert reply.code in {500, 502}


def test_checksum_unsupported_without_feature(remote: Remote, mode: str) -> None:
    remote.put("c.bin", b"data")
    with client_for(remote, mode) as ftp, pytest.raises(UnsupportedCommand):
        ftp.checksum("c.bin")


@pytest.mark.parametrize(
    ("algorithm", "function"),
    [("sha256", hashlib.sha256), ("sha1", hashlib.sha1), ("md5", hashlib.md5)],
)
def test_checksum(pyftpd: Remote, algorithm: str, function: type) -> None:
    data = b"checksum me " * 1000
    pyftpd.put("c.bin", data)
    with FTPClient.from_url(pyftpd.url()) as ftp:
        assert "HASH" in ftp.features
        assert ftp.checksum("c.bin", algorithm) == function(data).hexdigest()


def test_checksum_x_commands(tmp_path: Path) -> None:
    """Without HASH in FEAT, the X commands are used."""
    from .conftest import start_pyftpdlib

    server = start_pyftpdlib(tmp_path, "--hash")
    try:
        data = b"x-commands"
        server.put("x.bin", data)
        with FTPClient.from_url(server.url()) as ftp:
            assert ftp.checksum("x.bin", "SHA-256") == hashlib.sha256(data).hexdigest()
            with pytest.raises(UnsupportedCommand):
                ftp.checksum("x.bin", "sha512")  # neither HASH SHA-512 nor XSHA512 offered
            with pytest.raises(ValueError, match="unknown algorithm"):
                ftp.checksum("x.bin", "whirlpool")
    finally:
        server.stop()
