"""walk() over a nested tree with non-ASCII names, on every server, sync and async."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from ftpferry.client import AsyncFTPClient, FTPClient, ListingTooLarge, PermanentError

from .conftest import Remote, client_for, start_hostile_pyftpdlib, start_pyftpdlib

pytestmark = pytest.mark.integration

TREE = {
    "top.bin": b"t" * 10,
    "name with spaces.dat": b"s",
    "a/one.bin": b"1" * 100,
    "a/héllo wörld ✓.txt": b"h",
    "a/b/two.bin": b"2",
    "a/b/c/three.txt": b"3",
    "a/b/c/d/four.bin": b"4" * 4,
    "日本語/ファイル.txt": b"j",
    "z/émpty dir/.keep": b"",
}
EMPTY_DIRS = ("a/b/c/d/empty",)


def _expected(root: Path) -> dict[str, tuple[set[str], set[str]]]:
    """os.walk of the served tree, keyed by path relative to the root ("." for it)."""
    result: dict[str, tuple[set[str], set[str]]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        relative = os.path.relpath(dirpath, root)
        result[relative] = (set(dirnames), set(filenames))
    return result


def _normalise(path: str) -> str:
    return os.path.normpath(path.removeprefix("/")) if path not in {"", "/"} else "."


def _make_tree(remote: Remote) -> None:
    for relative, data in TREE.items():
        remote.put(relative, data)
    for relative in EMPTY_DIRS:
        remote.mkdir(relative)


@pytest.mark.parametrize("mode", ["passive", "active"])
def test_walk_matches_os_walk(remote: Remote, mode: str) -> None:
    _make_tree(remote)
    # vsftpd's LIST hides dot files unless asked with -a (pyftpdlib would take
    # "-a path" for a path; MLSD servers ignore list_options).
    options = "-a" if remote.name == "vsftpd" else ""
    with FTPClient.from_url(
        remote.url(),
        mode=mode,  # type: ignore[arg-type]
        list_options=options,
    ) as ftp:
        walked = {
            _normalise(dirpath): (set(dirs), set(files)) for dirpath, dirs, files in ftp.walk()
        }
        assert walked == _expected(remote.root)

        order = [dirpath for dirpath, _, _ in ftp.walk("a")]
        assert order[0] == "a"
        assert order.index("a/b") < order.index("a/b/c") < order.index("a/b/c/d")


def test_walk_prunes_and_downloads_tree(remote: Remote, tmp_path: Path) -> None:
    _make_tree(remote)
    target = tmp_path / "copy"
    with FTPClient.from_url(remote.url()) as ftp:
        for dirpath, dirs, files in ftp.walk():
            dirs[:] = [name for name in dirs if name != "b"]  # like os.walk: skip a/b
            files[:] = [name for name in files if name != ".keep"]
            local_dir = target / dirpath
            local_dir.mkdir(parents=True, exist_ok=True)
            for name in files:
                ftp.download(f"{dirpath}/{name}", local_dir / name)
    copied = {
        str(path.relative_to(target).as_posix()).removeprefix("./")
        for path in target.rglob("*")
        if path.is_file()
    }
    assert copied == {
        name for name in TREE if not name.startswith("a/b/") and not name.endswith(".keep")
    }
    assert (target / "a" / "héllo wörld ✓.txt").read_bytes() == b"h"
    assert (target / "日本語" / "ファイル.txt").read_bytes() == b"j"


def test_async_walk_and_missing_top(remote: Remote) -> None:
    _make_tree(remote)

    async def scenario() -> list[str]:
        async with AsyncFTPClient.from_url(remote.url()) as ftp:
            seen = [dirpath async for dirpath, _, _ in ftp.walk("日本語")]
            if remote.name == "vsftpd":
                # vsftpd answers LIST of a missing path with an empty listing.
                missing = [step async for step in ftp.walk("no such dir")]
                assert missing == [("no such dir", [], [])]
            else:
                with pytest.raises(PermanentError):
                    async for _ in ftp.walk("no such dir"):
                        pass
            return seen

    assert asyncio.run(scenario()) == ["日本語"]


# -- directory loops -----------------------------------------------------------------------


def _loop_tree(remote: Remote) -> None:
    """``tree`` with three links back to itself and one from a subdirectory."""
    remote.put("tree/a.txt", b"a")
    remote.put("tree/sub/b.txt", b"b")
    for name in ("l1", "l2", "l3"):
        (remote.root / "tree" / name).symlink_to(".")
    (remote.root / "tree" / "sub" / "up").symlink_to("..")


@pytest.mark.parametrize(
    "extra",
    [(), ("--no-mlst", "--list-follows-links")],
    ids=["pyftpdlib-mlsd-unique", "pyftpdlib-list-only-no-unique"],
)
def test_walk_ends_at_directory_loops(tmp_path: Path, extra: tuple[str, ...], mode: str) -> None:
    """Links the server lists as directories used to be walked until paths
    overflowed; with three links in one directory, without ``unique`` facts
    too, the walk now ends after going round each loop once or twice."""
    remote = start_pyftpdlib(tmp_path, *extra)
    try:
        _loop_tree(remote)
        with client_for(remote, mode) as ftp:
            steps = list(itertools.islice(ftp.walk("tree"), 200))
    finally:
        remote.stop()
    assert len(steps) < 50, [dirpath for dirpath, _, _ in steps]
    walked = {dirpath: set(files) for dirpath, _, files in steps}
    assert "a.txt" in walked["tree"] and "b.txt" in walked["tree/sub"]
    assert max(dirpath.count("/") for dirpath in walked) <= 4


def test_walk_does_not_follow_links_on_ftpferry(ftpferry: Remote, mode: str) -> None:
    """ftpferry lists a link to a directory as a link: walk() names it among
    the files, as os.walk does, and does not go through it."""
    _loop_tree(ftpferry)
    with client_for(ftpferry, mode) as ftp:
        steps = list(itertools.islice(ftp.walk("tree"), 200))
    walked = {dirpath: (set(dirs), set(files)) for dirpath, dirs, files in steps}
    assert walked == {
        "tree": ({"sub"}, {"a.txt", "l1", "l2", "l3"}),
        "tree/sub": (set(), {"b.txt", "up"}),
    }


def test_walk_leaves_out_names_no_directory_can_hold(tmp_path: Path, mode: str) -> None:
    """A hostile server lists ``..``-climbing and slashed names: walk() does not
    yield them, so code joining its names to a local path stays where it is."""
    injected = {
        "": {
            "MLSD": [
                "type=dir;modify=20240101000000; ../../up",
                "type=file;size=1;modify=20240101000000; a/b.txt",
                "type=file;size=1;modify=20240101000000; ..",
            ]
        }
    }
    remote = start_hostile_pyftpdlib(tmp_path, injected)
    try:
        remote.put("real/file.txt", b"x")
        with client_for(remote, mode) as ftp:
            steps = list(itertools.islice(ftp.walk(), 20))
    finally:
        remote.stop()
    names = {name for _, dirs, files in steps for name in (*dirs, *files)}
    assert names == {"real", "file.txt"}
    assert [dirpath for dirpath, _, _ in steps] == [".", "./real"]


@pytest.mark.parametrize("extra", [(), ("--no-mlst",)], ids=["MLSD", "LIST"])
def test_a_listing_without_end_is_cut_off(
    tmp_path: Path, extra: tuple[str, ...], mode: str
) -> None:
    """A server sending a listing without end used to fill the client's memory:
    past max_listing_bytes it is refused, and the session goes on."""
    remote = start_pyftpdlib(tmp_path, "--endless-listing", *extra)
    try:
        remote.put("real.txt", b"real\n")
        with client_for(remote, mode, max_listing_bytes=1 << 20, timeout=20) as ftp:
            with pytest.raises(ListingTooLarge, match="went past 1,048,576 bytes"):
                ftp.listdir()
            with pytest.raises(ListingTooLarge):
                list(ftp.walk())
            target = tmp_path / "real.txt"
            ftp.download("real.txt", target)  # the session is still usable
    finally:
        remote.stop()
    assert target.read_bytes() == b"real\n"
