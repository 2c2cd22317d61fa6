"""ls, get, put, rm, mkdir and mv against ftpferry and pyftpdlib, passive and active."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.client.conftest import Remote

from .conftest import Cli, sha256

pytestmark = pytest.mark.integration

DATA_COMMAND = {"passive": "EPSV", "active": "EPRT"}


def test_ls_long_listing_and_json(cli: Cli, remote: Remote, mode: str) -> None:
    remote.put("docs/report.pdf", b"x" * 1234)
    remote.put("docs/with space.txt", b"hi")
    remote.mkdir("docs/sub dir")
    text = cli.ok("ls", "--mode", mode, remote.url(path="docs"))
    lines = text.stdout.splitlines()
    assert len(lines) == 3, text.stdout
    assert lines[0].startswith("-") and lines[0].endswith("  report.pdf")
    assert "1,234" in lines[0]
    assert any(line.startswith("d") and line.endswith("  sub dir/") for line in lines)
    assert any(line.endswith("  with space.txt") for line in lines)

    document = cli.ok("ls", "--json", "--mode", mode, remote.url(path="docs")).json()
    assert document["command"] == "ls" and document["ok"] is True
    assert remote.password not in document["url"]
    by_name = {entry["name"]: entry for entry in document["entries"]}
    assert set(by_name) == {"report.pdf", "with space.txt", "sub dir"}
    assert by_name["report.pdf"] == {
        **by_name["report.pdf"],
        "kind": "file",
        "size": 1234,
    }
    assert by_name["sub dir"]["kind"] == "dir"
    assert by_name["report.pdf"]["modify"].endswith("+00:00")
    assert isinstance(document["seconds"], float)


def test_ls_of_a_single_file(cli: Cli, ftpferry: Remote) -> None:
    ftpferry.put("one.txt", b"12345")
    result = cli.ok("ls", "--json", ftpferry.url(path="one.txt")).json()
    assert [entry["name"] for entry in result["entries"]] == ["one.txt"]
    assert result["entries"][0]["size"] == 5


def test_get_and_put_round_trip(cli: Cli, remote: Remote, mode: str, tmp_path: Path) -> None:
    payload = os.urandom(300_000) + "ünïcödé".encode()
    source = remote.put("dir/blob.bin", payload)
    old = time.time() - 3600
    os.utime(source, (old, old))

    got = cli.ok("get", "--json", "--mode", mode, remote.url(path="dir/blob.bin")).json()
    local = cli.cwd / "blob.bin"
    assert local.read_bytes() == payload
    assert got["command"] == "get" and got["ok"] is True
    assert got["bytes"] == len(payload) and got["offset"] == 0 and got["size"] == len(payload)
    assert got["mode"] == mode and got["data_command"] == DATA_COMMAND[mode]
    assert got["local"] == "blob.bin" and got["remote"] == "dir/blob.bin"
    assert got["files"][0]["bytes"] == len(payload)
    assert abs(local.stat().st_mtime - old) < 1.0  # the server's time, from MDTM

    dest = tmp_path / "elsewhere"
    dest.mkdir()
    cli.ok("get", "--mode", mode, remote.url(path="dir/blob.bin"), dest)
    assert (dest / "blob.bin").read_bytes() == payload

    put = cli.ok("put", "--json", "--mode", mode, local, remote.url(path="dir/")).json()
    assert put["remote"] == "dir/blob.bin"
    put = cli.ok(
        "put", "--json", "--mode", mode, local, remote.url(path="dir/copy with space.bin")
    ).json()
    assert put["command"] == "put" and put["direction"] == "upload"
    assert put["bytes"] == len(payload) and put["mode"] == mode
    assert put["data_command"] == DATA_COMMAND[mode]
    copy = remote.root / "dir" / "copy with space.bin"
    assert copy.read_bytes() == payload
    if remote.name == "vsftpd":  # no MFMT: the copy keeps the time of its upload
        assert put["mtime_set"] is False
    else:
        assert put["mtime_set"] is True
        assert abs(copy.stat().st_mtime - local.stat().st_mtime) < 1.0  # MFMT


def test_put_into_an_existing_directory_keeps_the_name(cli: Cli, remote: Remote) -> None:
    remote.mkdir("inbox")
    local = cli.cwd / "note.txt"
    local.write_text("note")
    result = cli.ok("put", "--json", local, remote.url(path="inbox")).json()
    assert result["remote"] == "inbox/note.txt"
    assert (remote.root / "inbox" / "note.txt").read_text() == "note"


def test_rm_mkdir_mv(cli: Cli, ftpferry: Remote, mode: str) -> None:
    made = cli.ok("mkdir", "--json", "-p", "--mode", mode, ftpferry.url(path="a/b/ç d")).json()
    assert made["created"] == ["a", "a/b", "a/b/ç d"]
    assert (ftpferry.root / "a" / "b" / "ç d").is_dir()
    again = cli.ok("mkdir", "--json", "-p", ftpferry.url(path="a/b/ç d")).json()
    assert again["created"] == []
    exists = cli("mkdir", ftpferry.url(path="a/b"))
    assert exists.returncode == 1 and "550" in exists.stderr

    ftpferry.put("a/b/ç d/file.txt", b"f")
    ftpferry.put("a/top.txt", b"t")
    moved = cli.ok("mv", "--json", ftpferry.url(path="a/top.txt"), "a/b/renamed.txt").json()
    assert moved["from"] == "a/top.txt" and moved["to"] == "a/b/renamed.txt"
    assert (ftpferry.root / "a" / "b" / "renamed.txt").read_bytes() == b"t"
    cli.ok("mv", ftpferry.url(path="a/b/renamed.txt"), ftpferry.url(path="a/"))
    assert (ftpferry.root / "a" / "renamed.txt").exists()

    cli.ok("rm", ftpferry.url(path="a/renamed.txt"))
    assert not (ftpferry.root / "a" / "renamed.txt").exists()
    refused = cli("rm", ftpferry.url(path="a"))
    assert refused.returncode == 1
    assert "is a directory (use -r" in refused.stderr
    removed = cli.ok("rm", "-r", "--json", "--mode", mode, ftpferry.url(path="a")).json()
    kinds = {entry["path"]: entry["kind"] for entry in removed["removed"]}
    assert kinds == {
        "a/b/ç d/file.txt": "file",
        "a/b/ç d": "dir",
        "a/b": "dir",
        "a": "dir",
    }
    assert not (ftpferry.root / "a").exists()


def test_get_continue_sends_only_the_rest(cli: Cli, remote: Remote, mode: str) -> None:
    payload = os.urandom(1_000_003)
    remote.put("big.bin", payload)
    half = len(payload) // 2
    local = cli.cwd / "big.bin"
    local.write_bytes(payload[:half])
    result = cli.ok("get", "-c", "--json", "--mode", mode, remote.url(path="big.bin")).json()
    assert result["offset"] == half
    assert result["bytes"] == len(payload) - half
    assert sha256(local) == sha256(remote.root / "big.bin")
    again = cli.ok("get", "-c", "--json", remote.url(path="big.bin")).json()
    assert again["bytes"] == 0 and again["skipped"] is True


def test_put_continue_sends_only_the_rest(cli: Cli, remote: Remote, mode: str) -> None:
    payload = os.urandom(777_777)
    local = cli.cwd / "up.bin"
    local.write_bytes(payload)
    third = len(payload) // 3
    remote.put("up.bin", payload[:third])
    result = cli.ok("put", "-c", "--json", "--mode", mode, local, remote.url(path="up.bin")).json()
    assert result["bytes"] == len(payload) - third
    assert result["offset"] == third
    assert sha256(remote.root / "up.bin") == sha256(local)
