"""LocalStorage on a temporary directory: contents, namespace, and the root boundary."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ftpferry.protocol import ReplyCode
from ftpferry.storage import (
    AlreadyExists,
    LocalStorage,
    NotADirectory,
    NotFound,
    PermissionDenied,
    StorageError,
)
from ftpferry.storage.local import INLINE_LISTING_BYTES

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_bytes(b"top secret")
    return directory


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    """A root with files, a subdirectory and symlinks inside and out."""
    directory = tmp_path / "root"
    directory.mkdir()
    (directory / "data.txt").write_bytes(b"0123456789")
    (directory / "sub").mkdir()
    (directory / "sub" / "inner.txt").write_bytes(b"inner")
    (directory / "empty").mkdir()
    (directory / "file_link").symlink_to("data.txt")
    (directory / "dir_link").symlink_to("sub")
    (directory / "abs_link").symlink_to(directory / "sub" / "inner.txt")
    (directory / "dangling").symlink_to("nowhere")
    (directory / "out_file").symlink_to(outside / "secret.txt")
    (directory / "out_dir").symlink_to(outside)
    (directory / "out_relative").symlink_to("../outside")
    (directory / "out_dangling").symlink_to(outside / "not-yet.txt")
    return directory


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


def read(storage: LocalStorage, path: str) -> bytes:
    async def go() -> bytes:
        with await storage.open_read(path) as handle:
            return handle.read()

    return run(go())


def write(storage: LocalStorage, path: str, data: bytes, **kwargs: Any) -> None:
    async def go() -> None:
        with await storage.open_write(path, **kwargs) as handle:
            handle.write(data)

    run(go())


def test_root_is_the_real_path(tmp_path: Path, root: Path) -> None:
    (tmp_path / "alias").symlink_to(root)
    assert LocalStorage(tmp_path / "alias").root == str(root.resolve())


# -- stat and listing ----------------------------------------------------------------


def test_stat_file(storage: LocalStorage) -> None:
    entry = run(storage.stat("/data.txt"))
    assert entry.name == "data.txt"
    assert entry.is_file
    assert entry.size == 10
    assert entry.link_target is None


def test_stat_root_and_subdirectory(storage: LocalStorage) -> None:
    assert run(storage.stat("/")).name == "/"
    assert run(storage.stat("/")).is_dir
    assert run(storage.stat("/sub")).is_dir
    assert run(storage.stat("/sub/inner.txt")).size == 5


def test_stat_missing(storage: LocalStorage) -> None:
    with pytest.raises(NotFound, match="/nope"):
        run(storage.stat("/nope"))
    with pytest.raises(NotADirectory):
        run(storage.stat("/data.txt/x"))


def test_symlinks_inside_the_root_work(storage: LocalStorage) -> None:
    link = run(storage.stat("/file_link"))
    assert link.name == "file_link"
    assert link.is_file
    assert link.size == 10
    assert run(storage.stat("/dir_link")).is_dir
    assert run(storage.stat("/dir_link/inner.txt")).size == 5
    assert read(storage, "/file_link") == b"0123456789"
    assert read(storage, "/dir_link/inner.txt") == b"inner"
    assert [entry.name for entry in run(storage.list_dir("/dir_link"))] == ["inner.txt"]


def test_list_dir(storage: LocalStorage, root: Path) -> None:
    entries = {entry.name: entry for entry in run(storage.list_dir("/"))}
    assert list(entries) == sorted(entries)
    assert set(entries) == {
        "abs_link",
        "dangling",
        "data.txt",
        "dir_link",
        "empty",
        "file_link",
        "out_dangling",
        "out_dir",
        "out_file",
        "out_relative",
        "sub",
    }
    assert entries["data.txt"].is_file
    assert entries["sub"].is_dir
    # A link to a file inside the root shows the file, and keeps its arrow.
    assert entries["file_link"].is_file
    assert entries["file_link"].size == 10
    assert entries["file_link"].link_target == "data.txt"
    # A link to a directory is listed as the link: a recursive delete that took
    # it for a directory would empty the one it leads to.
    assert stat.S_ISLNK(entries["dir_link"].mode)
    assert entries["dir_link"].link_target == "sub"
    # An absolute target is shown as a virtual path: the root's location stays private.
    assert entries["abs_link"].is_file
    assert entries["abs_link"].link_target == "/sub/inner.txt"
    assert stat.S_ISLNK(entries["dangling"].mode)
    assert entries["dangling"].link_target == "nowhere"
    # A link leaving the root is shown as the link itself: never followed, and
    # nothing about what lies outside is revealed.
    for name in ("out_file", "out_dir", "out_relative", "out_dangling"):
        assert stat.S_ISLNK(entries[name].mode), name
        assert entries[name].link_target is None, name
    assert entries["out_file"].size == os.lstat(root / "out_file").st_size


def test_list_missing_and_file(storage: LocalStorage) -> None:
    with pytest.raises(NotFound):
        run(storage.list_dir("/nope"))
    with pytest.raises(NotADirectory):
        run(storage.list_dir("/data.txt"))


def test_list_dir_of_a_large_file(storage: LocalStorage, root: Path) -> None:
    """A file larger than a directory listed inline is refused as a file too."""
    (root / "large.bin").write_bytes(b"x" * (INLINE_LISTING_BYTES + 1))
    with pytest.raises(NotADirectory, match=r"/large\.bin: not a directory"):
        run(storage.list_dir("/large.bin"))


# -- the root boundary ---------------------------------------------------------------

ESCAPES = ["/out_file", "/out_dir/secret.txt", "/out_relative/secret.txt", "/out_dangling"]


@pytest.mark.parametrize("path", ESCAPES)
def test_stat_outside_is_refused(storage: LocalStorage, path: str) -> None:
    with pytest.raises(PermissionDenied, match="outside your root"):
        run(storage.stat(path))


@pytest.mark.parametrize("path", ESCAPES)
def test_read_outside_is_refused(storage: LocalStorage, path: str) -> None:
    with pytest.raises(PermissionDenied):
        run(storage.open_read(path))


@pytest.mark.parametrize("path", ["/out_dir", "/out_relative", "/out_dir/"])
def test_list_outside_is_refused(storage: LocalStorage, path: str) -> None:
    with pytest.raises(PermissionDenied):
        run(storage.list_dir(path.rstrip("/") or "/"))


@pytest.mark.parametrize(
    "path", ["/out_file", "/out_dir/new.txt", "/out_relative/new.txt", "/out_dangling"]
)
@pytest.mark.parametrize("mode", [{}, {"append": True}, {"offset": 3}])
def test_write_outside_is_refused(
    storage: LocalStorage, outside: Path, path: str, mode: dict[str, Any]
) -> None:
    before = sorted(p.name for p in outside.iterdir())
    with pytest.raises(PermissionDenied):
        run(storage.open_write(path, **mode))
    assert sorted(p.name for p in outside.iterdir()) == before
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_namespace_changes_outside_are_refused(storage: LocalStorage, outside: Path) -> None:
    with pytest.raises(PermissionDenied):
        run(storage.mkdir("/out_dir/newdir"))
    with pytest.raises(PermissionDenied):
        run(storage.rename("/data.txt", "/out_dir/stolen.txt"))
    with pytest.raises(PermissionDenied):
        run(storage.rename("/out_dir/secret.txt", "/mine.txt"))
    with pytest.raises(PermissionDenied):
        run(storage.remove("/out_dir/secret.txt"))
    with pytest.raises(PermissionDenied):
        run(storage.create_unique("/out_dir", "upload"))
    with pytest.raises(PermissionDenied):
        run(storage.chmod("/out_file", 0o777))
    with pytest.raises(PermissionDenied):
        run(storage.set_mtime("/out_file", 0))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert stat.S_IMODE((outside / "secret.txt").stat().st_mode) != 0o777


# -- file contents -------------------------------------------------------------------


def test_open_read(storage: LocalStorage) -> None:
    assert read(storage, "/data.txt") == b"0123456789"


def test_open_read_refuses_directories_and_missing_files(storage: LocalStorage) -> None:
    with pytest.raises(StorageError, match="is a directory"):
        run(storage.open_read("/sub"))
    with pytest.raises(NotFound):
        run(storage.open_read("/missing.txt"))


def test_open_read_fifo_does_not_block(storage: LocalStorage, root: Path) -> None:
    """A FIFO would block open() until a writer came, freezing the event loop."""
    os.mkfifo(root / "pipe")
    with pytest.raises(StorageError, match="not a regular file"):
        run(storage.open_read("/pipe"))


def test_open_write_fifo_does_not_block(storage: LocalStorage, root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(StorageError):
        run(storage.open_write("/pipe"))


def test_open_write_creates_and_truncates(storage: LocalStorage, root: Path) -> None:
    write(storage, "/new.bin", b"hello")
    assert (root / "new.bin").read_bytes() == b"hello"
    write(storage, "/data.txt", b"xy")
    assert (root / "data.txt").read_bytes() == b"xy"


def test_open_write_with_offset_keeps_the_head(storage: LocalStorage, root: Path) -> None:
    write(storage, "/data.txt", b"ab", offset=4)
    content = (root / "data.txt").read_bytes()
    assert content[:6] == b"0123ab"


def test_open_write_offset_past_the_end(storage: LocalStorage, root: Path) -> None:
    write(storage, "/data.txt", b"Z", offset=12)
    assert (root / "data.txt").read_bytes() == b"0123456789\x00\x00Z"


def test_append(storage: LocalStorage, root: Path) -> None:
    write(storage, "/data.txt", b"abc", append=True)
    assert (root / "data.txt").read_bytes() == b"0123456789abc"
    write(storage, "/fresh.txt", b"first", append=True)
    write(storage, "/fresh.txt", b"second", append=True)
    assert (root / "fresh.txt").read_bytes() == b"firstsecond"


def test_write_through_a_symlink_inside(storage: LocalStorage, root: Path) -> None:
    write(storage, "/file_link", b"via link")
    assert (root / "data.txt").read_bytes() == b"via link"
    assert (root / "file_link").is_symlink()


def test_open_write_errors(storage: LocalStorage) -> None:
    with pytest.raises(StorageError, match="is a directory"):
        run(storage.open_write("/sub"))
    with pytest.raises(NotFound):
        run(storage.open_write("/missing/file.txt"))
    with pytest.raises(PermissionDenied):
        run(storage.open_write("/"))


def test_new_files_follow_the_umask(root: Path) -> None:
    storage = LocalStorage(root, umask=0o077)
    write(storage, "/private.txt", b"x")
    assert stat.S_IMODE((root / "private.txt").stat().st_mode) == 0o600


def test_create_unique(storage: LocalStorage, root: Path) -> None:
    (root / "upload").write_bytes(b"taken")
    (root / "upload.1").write_bytes(b"taken")
    seen: set[str] = set()
    for _ in range(5):
        before = {p.name for p in root.iterdir()}
        path, handle = run(storage.create_unique("/", "upload"))
        with handle:
            handle.write(path.encode())
        name = path.rpartition("/")[2]
        assert path.startswith("/upload")
        assert name not in before
        assert name not in seen
        seen.add(name)
        assert (root / name).read_bytes() == path.encode()
    assert (root / "upload").read_bytes() == b"taken"
    assert (root / "upload.1").read_bytes() == b"taken"


def test_create_unique_in_a_subdirectory(storage: LocalStorage, root: Path) -> None:
    path, handle = run(storage.create_unique("/sub", "inner.txt"))
    handle.close()
    assert path.startswith("/sub/inner.txt.")
    assert (root / "sub" / "inner.txt").read_bytes() == b"inner"
    assert (root / path.lstrip("/")).exists()


def test_create_unique_gives_up(storage: LocalStorage, root: Path) -> None:
    (root / "full").mkdir()
    (root / "full" / "f").write_bytes(b"")
    for n in range(1, 100):
        (root / "full" / f"f.{n}").write_bytes(b"")
    with pytest.raises(StorageError, match="unique"):
        run(storage.create_unique("/full", "f"))


def test_create_unique_does_not_follow_a_dangling_link(storage: LocalStorage, root: Path) -> None:
    (root / "trap").symlink_to("nowhere")
    path, handle = run(storage.create_unique("/", "trap"))
    handle.close()
    assert path != "/trap"
    assert not (root / "nowhere").exists()


# -- namespace changes ---------------------------------------------------------------


def test_mkdir(storage: LocalStorage, root: Path) -> None:
    run(storage.mkdir("/newdir"))
    assert (root / "newdir").is_dir()
    run(storage.mkdir("/newdir/child"))
    assert (root / "newdir" / "child").is_dir()


def test_mkdir_errors(storage: LocalStorage) -> None:
    with pytest.raises(AlreadyExists):
        run(storage.mkdir("/sub"))
    with pytest.raises(AlreadyExists):
        run(storage.mkdir("/data.txt"))
    with pytest.raises(NotFound):
        run(storage.mkdir("/missing/child"))
    with pytest.raises(PermissionDenied):
        run(storage.mkdir("/"))


def test_rename(storage: LocalStorage, root: Path) -> None:
    run(storage.rename("/data.txt", "/sub/moved.txt"))
    assert not (root / "data.txt").exists()
    assert (root / "sub" / "moved.txt").read_bytes() == b"0123456789"
    run(storage.rename("/sub", "/renamed"))
    assert (root / "renamed" / "moved.txt").exists()


def test_rename_errors(storage: LocalStorage) -> None:
    with pytest.raises(NotFound):
        run(storage.rename("/missing", "/x"))
    with pytest.raises(NotFound):
        run(storage.rename("/data.txt", "/missing/x"))
    with pytest.raises(PermissionDenied):
        run(storage.rename("/", "/x"))


def test_remove(storage: LocalStorage, root: Path) -> None:
    run(storage.remove("/data.txt"))
    assert not (root / "data.txt").exists()


def test_remove_a_link_keeps_its_target(storage: LocalStorage, root: Path) -> None:
    run(storage.remove("/file_link"))
    assert not (root / "file_link").is_symlink()
    assert (root / "data.txt").read_bytes() == b"0123456789"
    run(storage.remove("/dir_link"))
    assert (root / "sub" / "inner.txt").exists()


def test_remove_errors(storage: LocalStorage) -> None:
    with pytest.raises(StorageError, match="is a directory"):
        run(storage.remove("/sub"))
    with pytest.raises(NotFound):
        run(storage.remove("/missing"))
    with pytest.raises(PermissionDenied):
        run(storage.remove("/"))


def test_rmdir(storage: LocalStorage, root: Path) -> None:
    run(storage.rmdir("/empty"))
    assert not (root / "empty").exists()


def test_rmdir_errors(storage: LocalStorage, root: Path) -> None:
    with pytest.raises(StorageError, match="not empty"):
        run(storage.rmdir("/sub"))
    with pytest.raises(NotADirectory):
        run(storage.rmdir("/data.txt"))
    with pytest.raises(NotFound):
        run(storage.rmdir("/missing"))
    with pytest.raises(PermissionDenied):
        run(storage.rmdir("/"))
    assert root.is_dir()


def test_set_mtime_and_chmod(storage: LocalStorage, root: Path) -> None:
    run(storage.set_mtime("/data.txt", 1_000_000_000.0))
    assert (root / "data.txt").stat().st_mtime == 1_000_000_000.0
    assert run(storage.stat("/data.txt")).mtime == 1_000_000_000.0
    run(storage.chmod("/data.txt", 0o600))
    assert stat.S_IMODE((root / "data.txt").stat().st_mode) == 0o600
    with pytest.raises(NotFound):
        run(storage.chmod("/missing", 0o600))


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1777, 0o100600])
def test_chmod_refuses_bits_beyond_rwx(storage: LocalStorage, root: Path, mode: int) -> None:
    before = stat.S_IMODE((root / "data.txt").stat().st_mode)
    with pytest.raises(PermissionDenied):
        run(storage.chmod("/data.txt", mode))
    assert stat.S_IMODE((root / "data.txt").stat().st_mode) == before


def test_chmod_refuses_the_root(storage: LocalStorage, root: Path) -> None:
    before = stat.S_IMODE(root.stat().st_mode)
    with pytest.raises(PermissionDenied):
        run(storage.chmod("/", 0o000))
    assert stat.S_IMODE(root.stat().st_mode) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_permission_errors_are_translated(storage: LocalStorage, root: Path) -> None:
    (root / "locked").mkdir(mode=0o500)
    try:
        with pytest.raises(PermissionDenied):
            run(storage.open_write("/locked/x"))
    finally:
        (root / "locked").chmod(0o700)


def test_storage_errors_carry_reply_codes() -> None:
    assert NotFound("x").reply_code == ReplyCode.FILE_UNAVAILABLE
    assert PermissionDenied("x").message == "x"
