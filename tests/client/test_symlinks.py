"""Symbolic links and the client library: ``listdir(source="LIST")`` shows what
MLSD hides, and ``download(follow_symlinks=False)`` never writes through a
local link.  Against ftpferry, pyftpdlib and vsftpd."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ftpferry.client import EntryKind, FTPClient

from .conftest import Remote

pytestmark = pytest.mark.integration


def test_listdir_list_shows_links(remote: Remote) -> None:
    remote.put("data.txt", b"data")
    (remote.root / "dangling").symlink_to("missing")
    remote.chown()
    with FTPClient.from_url(remote.url()) as ftp:
        forced = ftp.listdir(source="LIST")
        assert forced.source == "LIST"
        entry = forced.get("dangling")
        assert entry is not None
        assert (entry.kind, entry.target) == (EntryKind.LINK, "missing")
        default = ftp.listdir()
        assert default.source == ("MLSD" if remote.supports("mlst") else "LIST")
        with pytest.raises(ValueError, match="source"):
            ftp.listdir(source="MLSD")  # type: ignore[arg-type]


def test_download_does_not_follow_a_local_link_when_told(remote: Remote, tmp_path: Path) -> None:
    remote.put("payload.txt", b"from the server\n")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"must not change\n")
    link = tmp_path / "link.txt"
    link.symlink_to(victim)
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "created-through-link.txt")
    with FTPClient.from_url(remote.url()) as ftp:
        for target in (link, dangling):
            for kwargs in ({}, {"resume": True}, {"offset": 3}):
                with pytest.raises(OSError) as caught:
                    ftp.download("payload.txt", target, follow_symlinks=False, **kwargs)  # type: ignore[arg-type]
                assert caught.value.errno == errno.ELOOP
                assert "symbolic link" in str(caught.value)
        assert ftp.pwd() == "/"  # the session is usable afterwards
        assert victim.read_bytes() == b"must not change\n"
        assert not (tmp_path / "created-through-link.txt").exists()
        # A plain file is written as ever; and by default a link is followed.
        ftp.download("payload.txt", tmp_path / "plain.txt", follow_symlinks=False)
        assert (tmp_path / "plain.txt").read_bytes() == b"from the server\n"
        ftp.download("payload.txt", link)
    assert victim.read_bytes() == b"from the server\n"
    assert os.path.islink(link)
