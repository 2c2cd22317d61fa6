"""Removing a remote tree never deletes through a link to a directory.

Some servers (pyftpdlib in MLSD; ftpferry did for links inside its root)
list a symbolic link to a directory as the directory itself.  ``rm -r`` and
``mirror --reverse --delete`` used to empty such a "directory" like any
other, deleting the files of the directory it leads to, which may lie
outside the tree being removed.  They now remove the link, as ``rm -r``
does locally, and leave its target alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.client.conftest import Remote

from .conftest import Cli

pytestmark = pytest.mark.integration


def make_victim_and_link(remote: Remote, link: str) -> Path:
    """``victim/keep.txt`` outside the tree, and ``link`` inside it leading there."""
    remote.put("victim/keep.txt", b"precious\n")
    remote.put("victim/deeper/also.txt", b"also precious\n")
    path = remote.root / link
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(remote.root / "victim", path.parent), path)
    remote.chown()
    return path


def assert_victim_intact(remote: Remote) -> None:
    assert (remote.root / "victim/keep.txt").read_bytes() == b"precious\n"
    assert (remote.root / "victim/deeper/also.txt").read_bytes() == b"also precious\n"


def test_rm_r_removes_the_link_not_what_it_leads_to(cli: Cli, remote: Remote, mode: str) -> None:
    remote.put("doomed/x.txt", b"x")
    remote.put("doomed/sub/y.txt", b"y")
    link = make_victim_and_link(remote, "doomed/sub/link")

    result = cli.ok("rm", "-r", "--json", "--mode", mode, remote.url(path="doomed")).json()
    assert_victim_intact(remote)
    assert not os.path.lexists(link)
    assert not (remote.root / "doomed").exists()
    removed = {item["path"] for item in result["removed"]}
    assert "doomed/sub/link" in removed
    assert not any("keep.txt" in path for path in removed)


def test_mirror_reverse_delete_removes_the_link_not_what_it_leads_to(
    cli: Cli, remote: Remote, mode: str, tmp_path: Path
) -> None:
    local = tmp_path / "site"
    (local / "pages").mkdir(parents=True)
    (local / "pages" / "index.html").write_text("<p>hi</p>\n")
    remote.put("site/old.txt", b"gone from the source\n")
    link = make_victim_and_link(remote, "site/shared")
    make_victim_and_link(remote, "site/pages/also-shared")

    report = cli.ok(
        "mirror", "-R", "--delete", "--json", "--mode", mode, local, remote.url(path="site")
    ).json()
    assert_victim_intact(remote)
    assert not (remote.root / "site/old.txt").exists()
    assert (remote.root / "site/pages/index.html").read_text() == "<p>hi</p>\n"
    deleted = {item["path"] for item in report["deleted"]}
    assert "old.txt" in deleted
    assert not any("keep.txt" in path or "also.txt" in path for path in deleted)
    assert report["errors"] == []
    for path in (link, remote.root / "site/pages/also-shared"):
        if remote.name in {"ftpferry", "vsftpd"}:
            # Listed as a link (by vsftpd's LIST too), it is not mirrored (uploads
            # make no links) and so is left alone, as --delete leaves every skipped entry.
            assert path.is_symlink()
        else:
            # pyftpdlib's MLSD shows a directory: DELE takes the link away.
            assert not os.path.lexists(path)
