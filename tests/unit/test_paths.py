"""Virtual path resolution: nothing a client writes can climb above ``/``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.protocol import PathError, resolve
from ftpferry.protocol.paths import join_virtual, virtual_name


@pytest.mark.parametrize(
    ("cwd", "argument", "expected"),
    [
        ("/", "file.txt", "/file.txt"),
        ("/home", "file.txt", "/home/file.txt"),
        ("/home", "/abs/file", "/abs/file"),
        ("/a/b", "..", "/a"),
        ("/a/b", "../c", "/a/c"),
        ("/a/b", ".", "/a/b"),
        ("/a/b", "./c/./d/", "/a/b/c/d"),
        ("/a", "", "/a"),
        ("/", "/", "/"),
        ("/a", "//x//y//", "/x/y"),
        ("/a", "dir\\sub\\f.txt", "/a/dir/sub/f.txt"),
        ("/a", "\\root", "/root"),
        ("/a", "....//", "/a/...."),
        ("/a", "...", "/a/..."),
        ("/a", "..x/x..", "/a/..x/x.."),
        ("/a", " .. ", "/a/ .. "),
        ("/a", "name with space ", "/a/name with space "),
        ("/a", "Größe/日本", "/a/Größe/日本"),
        ("/a", "C:\\Windows", "/a/C:/Windows"),
    ],
)
def test_resolve(cwd: str, argument: str, expected: str) -> None:
    assert resolve(cwd, argument) == expected


@pytest.mark.parametrize(
    ("cwd", "argument", "expected"),
    [
        ("/", "../../etc/passwd", "/etc/passwd"),
        ("/home/alice", "../../etc/passwd", "/etc/passwd"),
        ("/home/alice", "../../../../../../etc/passwd", "/etc/passwd"),
        ("/home", "/../..", "/"),
        ("/home", "/../../etc", "/etc"),
        ("/", "..\\..\\etc", "/etc"),
        ("/x/y", "..\\..\\..\\etc", "/etc"),
        ("/", "a/./../..", "/"),
        ("/x", "a/./../../..", "/"),
        ("/x", "....//", "/x/...."),
        ("/", "..", "/"),
        ("/", "../", "/"),
        ("/", ".\\..\\.\\..", "/"),
    ],
)
def test_attacks_stay_inside_the_root(cwd: str, argument: str, expected: str) -> None:
    assert resolve(cwd, argument) == expected


@pytest.mark.parametrize("argument", ["\x00", "file\x00.txt", "../\x00/etc", "/etc/passwd\x00.jpg"])
def test_nul_byte_is_refused(argument: str) -> None:
    with pytest.raises(PathError, match="NUL"):
        resolve("/", argument)


@pytest.mark.parametrize("argument", ["\udcff", "caf\udce9", "dir/\udc80/x", "\ud800"])
def test_undecodable_bytes_are_refused(argument: str) -> None:
    with pytest.raises(PathError, match="UTF-8"):
        resolve("/", argument)


def test_bad_cwd_is_refused_too() -> None:
    with pytest.raises(PathError):
        resolve("/a\x00b", "")
    with pytest.raises(PathError):
        resolve("/\udcff", "x")


def test_unnormalized_cwd_is_normalized() -> None:
    assert resolve("/a/../b/./", "") == "/b"
    assert resolve("a//b", "c") == "/a/b/c"
    assert resolve("", "") == "/"


def test_join_virtual() -> None:
    assert join_virtual("/", "f") == "/f"
    assert join_virtual("/dir", "f") == "/dir/f"
    assert join_virtual("/dir/", "f") == "/dir/f"


def test_virtual_name() -> None:
    assert virtual_name("/") == "/"
    assert virtual_name("/a") == "a"
    assert virtual_name("/a/b.txt") == "b.txt"


# -- properties ----------------------------------------------------------------------

_pieces = st.sampled_from(["..", ".", "/", "\\", "a", "b c", "...", "\x00", "\udcff", "é", ""])
_paths = st.one_of(st.text(max_size=30), st.lists(_pieces, max_size=12).map("".join))


def _check(result: str) -> None:
    assert result.startswith("/")
    assert "\x00" not in result
    assert "\\" not in result
    components = result.split("/")[1:]
    assert "." not in components
    assert ".." not in components
    if result != "/":
        assert "" not in components  # no "//" and no trailing slash
    result.encode("utf-8")


def _valid(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=400)
@given(cwd=_paths, argument=_paths)
def test_resolution_is_always_safe(cwd: str, argument: str) -> None:
    absolute = argument.replace("\\", "/").startswith("/")
    if _valid(argument) and (absolute or _valid(cwd)):
        _check(resolve(cwd, argument))
    else:
        with pytest.raises(PathError):
            resolve(cwd, argument)


@settings(max_examples=300)
@given(cwd=_paths, argument=_paths)
def test_resolution_is_idempotent(cwd: str, argument: str) -> None:
    try:
        result = resolve(cwd, argument)
    except PathError:
        return
    assert resolve(result, "") == result
    assert resolve("/anywhere", result) == result
    assert resolve(result, ".") == result


@settings(max_examples=300)
@given(argument=_paths)
def test_relative_resolution_stays_under_cwd_or_climbs_by_dotdot(argument: str) -> None:
    try:
        result = resolve("/home/user", argument)
    except PathError:
        return
    absolute = argument.replace("\\", "/").startswith("/")
    if not absolute and ".." not in argument:
        assert result == "/home/user" or result.startswith("/home/user/")
