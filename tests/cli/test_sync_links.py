"""Symbolic links in the mirror's pure parts: merging listings, and planning.

The listing lines are the ones real servers send (ftpferry, pyftpdlib,
proftpd-style MLSD link types); the servers themselves are exercised in
``test_mirror_symlinks``.
"""

from __future__ import annotations

import datetime
from types import MappingProxyType

from ftpferry.client import EntryKind, Listing, parse_list
from ftpferry.client.entries import parse_mlsd
from ftpferry.sync import LinkState, Skipped, Tree, directory_entries, leaves_root, plan_mirror
from ftpferry.sync.plan import Link, Removal

from .test_sync_plan import T0, tree

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)

FTPFERRY_MLSD = [
    "type=file;size=3;modify=20261126043226;unique=fe00U24a2d8; file.txt",
    "type=file;size=3;modify=20261126043226;unique=fe00U24a2d8; rel-file",
    "type=file;size=7;modify=20261126043226;unique=fe00U24a2df; dangling",
    "type=file;size=17;modify=20261126043226;unique=fe00U24a2dd; escape",
    "type=dir;modify=20261126043226;unique=fe00U24a2d6; dirlink",
    "type=file;size=9;modify=20261126043226;unique=fe00U1; a -> b",
]
FTPFERRY_LIST = [
    "-rw-r--r--   1 ftp      ftp                 3 Nov 26 04:32 file.txt",
    "-rw-r--r--   1 ftp      ftp                 3 Nov 26 04:32 rel-file -> file.txt",
    "lrwxrwxrwx   1 ftp      ftp                 7 Nov 26 04:32 dangling -> missing",
    "lrwxrwxrwx   1 ftp      ftp                17 Nov 26 04:32 escape",
    "drwxr-xr-x   2 ftp      ftp              4096 Nov 26 04:32 dirlink",
    "-rw-r--r--   1 ftp      ftp                 9 Nov 26 04:32 a -> b",
]


def test_ftpferry_listings_merge() -> None:
    merged = directory_entries(parse_mlsd(FTPFERRY_MLSD), parse_list(FTPFERRY_LIST, now=NOW))
    entries = merged.entries
    assert merged.duplicates == () and merged.unsafe == ()
    assert entries["file.txt"].kind is EntryKind.FILE
    # "-rw-... rel-file -> file.txt": MLSD has rel-file and no "rel-file -> file.txt".
    assert (entries["rel-file"].kind, entries["rel-file"].target) == (EntryKind.LINK, "file.txt")
    assert (entries["dangling"].kind, entries["dangling"].target) == (EntryKind.LINK, "missing")
    assert (entries["escape"].kind, entries["escape"].target) == (EntryKind.LINK, None)
    assert entries["dirlink"].kind is EntryKind.DIR  # nothing says it is a link
    # A file really called "a -> b" stays that file.
    assert entries["a -> b"].kind is EntryKind.FILE
    assert "a" not in entries


def test_pyftpdlib_links_missing_from_mlsd_come_from_list() -> None:
    mlsd = ["type=file;size=5;modify=20240101000000; real.txt"]
    listing = [
        "-rw-r--r--   1 owner    group           5 Jan 01  2024 real.txt",
        "lrwxrwxrwx   1 owner    group          12 Jan 01  2024 gone -> /abs/nowhere",
    ]
    entries = directory_entries(parse_mlsd(mlsd), parse_list(listing, now=NOW)).entries
    assert (entries["gone"].kind, entries["gone"].target) == (EntryKind.LINK, "/abs/nowhere")


def test_mlsd_link_types_need_no_list() -> None:
    mlsd = [
        "type=OS.unix=slink:/srv/target;modify=20240101000000; with-target",
        "type=OS.unix=symlink;modify=20240101000000; without-target",
    ]
    entries = directory_entries(parse_mlsd(mlsd)).entries
    assert (entries["with-target"].kind, entries["with-target"].target) == (
        EntryKind.LINK,
        "/srv/target",
    )
    assert (entries["without-target"].kind, entries["without-target"].target) == (
        EntryKind.LINK,
        None,
    )
    # LIST without a target does not erase one MLSD gave.
    listing = ["lrwxrwxrwx   1 o        g              11 Jan 01  2024 with-target"]
    merged = directory_entries(parse_mlsd(mlsd), parse_list(listing, now=NOW))
    assert merged.entries["with-target"].target == "/srv/target"


def test_names_listed_twice_are_dropped() -> None:
    mlsd = [
        "type=file;size=5; evil",
        "type=OS.unix=slink:/tmp/x; evil",
        "type=dir; evil2",
        "type=file;size=1; fine",
    ]
    listing = [
        "drwxr-xr-x   2 o        g            4096 Jan 01  2024 evil2",
        "lrwxrwxrwx   1 o        g               5 Jan 01  2024 evil2 -> ../..",
    ]
    merged = directory_entries(parse_mlsd(mlsd), parse_list(listing, now=NOW))
    assert merged.duplicates == ("evil", "evil2")
    assert set(merged.entries) == {"fine"}


def test_unsafe_names_are_dropped() -> None:
    mlsd = ["type=file;size=1; a/b", "type=file;size=1; ok"]
    merged = directory_entries(parse_mlsd(mlsd))
    assert set(merged.entries) == {"ok"} and merged.unsafe == ("a/b",)


def links(**targets: str) -> MappingProxyType[str, LinkState]:
    return MappingProxyType(
        {
            path.replace("__", "/"): LinkState(path=path.replace("__", "/"), target=target)
            for path, target in targets.items()
        }
    )


def with_links(base: Tree, found: MappingProxyType[str, LinkState]) -> Tree:
    return Tree(
        files=base.files,
        dirs=base.dirs,
        links=found,
        exists=base.exists,
        time_precision=base.time_precision,
    )


def test_new_links_are_made_last_with_their_text() -> None:
    source = with_links(tree({"a/f": (1, T0)}), links(a__l="../f", top="/etc/passwd"))
    plan = plan_mirror(source, Tree(exists=False))
    assert plan.links == (
        Link(path="a/l", target="../f"),
        Link(path="top", target="/etc/passwd"),
    )
    assert [link.outside for link in plan.links] == [False, True]
    assert not plan.empty


def test_same_link_is_unchanged_and_a_changed_one_is_replaced() -> None:
    source = with_links(Tree(), links(same="x", moved="new"))
    target = with_links(Tree(), links(same="x", moved="old"))
    plan = plan_mirror(source, target)
    assert plan.unchanged_links == ("same",)
    assert plan.clear == (Removal(path="moved", is_dir=False, is_link=True),)
    assert plan.links == (Link(path="moved", target="new", reason="changed"),)


def test_a_local_link_makes_way_for_a_file_or_directory_without_delete() -> None:
    source = tree({"f": (1, T0), "d/inner": (1, T0)})
    target = with_links(Tree(), links(f="/outside/file", d="/outside"))
    plan = plan_mirror(source, target)
    assert set(plan.clear) == {
        Removal(path="f", is_dir=False, is_link=True),
        Removal(path="d", is_dir=False, is_link=True),
    }
    assert plan.mkdirs == ("d",)
    assert {item.path for item in plan.transfers} == {"f", "d/inner"}
    assert plan.conflicts == ()


def test_a_link_where_a_file_or_directory_is_needs_delete() -> None:
    source = with_links(Tree(), links(f="x", d="y"))
    target = tree({"f": (1, T0), "d/inner": (1, T0)})
    plan = plan_mirror(source, target)
    assert {(c.path, c.reason) for c in plan.conflicts} == {
        ("f", "a file is where a symbolic link belongs"),
        ("d", "a directory is where a symbolic link belongs"),
    }
    assert plan.links == () and plan.clear == ()
    plan = plan_mirror(source, target, delete=True)
    assert [(r.path, r.kind) for r in plan.clear] == [
        ("d/inner", "file"),
        ("d", "dir"),
        ("f", "file"),
    ]
    assert {link.path for link in plan.links} == {"f", "d"}
    assert plan.delete_files == () and plan.delete_dirs == ()


def test_delete_removes_stale_links_but_not_what_was_skipped() -> None:
    skipped = (
        Skipped(path="odd", kind="link", reason="target unknown"),
        Skipped(path="loop", kind="dir", reason="a loop"),
    )
    source = Tree(skipped=skipped)
    target = with_links(tree({"loop/x": (1, T0), "odd": (1, T0)}), links(stale="gone"))
    plan = plan_mirror(source, target, delete=True)
    assert plan.clear == (Removal(path="stale", is_dir=False, is_link=True),)
    assert plan.delete_files == () and plan.delete_dirs == ()
    assert plan.skipped == skipped
    assert plan_mirror(source, target).clear == ()  # without delete, stale links stay


def test_leaves_root() -> None:
    assert leaves_root("a", "/abs")
    assert leaves_root("a", "..")
    assert leaves_root("a/b", "../../x")
    assert not leaves_root("a/b", "../x")
    assert not leaves_root("a", "b/../c")
    assert not leaves_root("a", "./b")


def test_loops_need_the_unique_fact_and_the_names_of_an_ancestor() -> None:
    """``_RemoteScan`` is the scan's bookkeeping; the server side of loops is in
    ``test_mirror_symlinks``.  A server with a constant ``unique`` fact must
    not lose its subdirectories as loops."""
    from ftpferry.sync.tree import _RemoteScan

    def mlsd(*names: str, unique: str = "same") -> Listing:
        return parse_mlsd([f"type=dir;unique={unique}; {name}" for name in names])

    scan = _RemoteScan(links=True)
    scan.uniques[""] = "same"
    assert scan.take("", mlsd("a", "b"), None) == ["a", "b"]
    # "a" lists other names: a bogus unique, not a loop.
    assert scan.take("a", mlsd("inner"), None) == ["a/inner"]
    # "b" lists the root's names: a loop.
    assert scan.take("b", mlsd("a", "b"), None) == []
    assert [(item.path, item.reason) for item in scan.skipped] == [
        ("b", "a directory loop: the same directory as '.'")
    ]
    assert scan.dirs == {"a"}
