"""``nlst`` and ``site`` against ftpferry, pyftpdlib and vsftpd, passive and active,
from both the blocking and the asyncio client."""

from __future__ import annotations

import asyncio
import stat

import pytest

from ftpferry.client import (
    AsyncFTPClient,
    PermanentError,
    ReplyError,
    UnsupportedCommand,
)

from .conftest import Remote, client_for

pytestmark = pytest.mark.integration


def test_nlst_gives_bare_names(remote: Remote, mode: str) -> None:
    remote.put("a.txt", b"1")
    remote.put("ünï côdé.txt", b"2")
    remote.put("sub dir/inner.bin", b"3")
    remote.put("sub dir/second.txt", b"4")
    with client_for(remote, mode) as ftp:
        assert sorted(ftp.nlst()) == sorted(["a.txt", "ünï côdé.txt", "sub dir"])
        # vsftpd answers "NLST sub dir" with "sub dir/inner.bin": the prefix goes.
        assert sorted(ftp.nlst("sub dir")) == ["inner.bin", "second.txt"]
        assert sorted(ftp.nlst("/sub dir/")) == ["inner.bin", "second.txt"]
        assert ftp.last_transfer is not None and ftp.last_transfer.direction == "listing"
        expected = {"passive": "EPSV", "active": "EPRT"}[mode]
        assert ftp.last_data_command == expected
        ftp.cwd("sub dir")
        assert sorted(ftp.nlst()) == ["inner.bin", "second.txt"]


def test_nlst_of_an_empty_directory(remote: Remote, mode: str) -> None:
    remote.mkdir("empty")
    with client_for(remote, mode) as ftp:
        assert ftp.nlst("empty") == []


def test_nlst_of_a_missing_directory_raises_and_the_session_goes_on(
    remote: Remote, mode: str
) -> None:
    remote.put("here.txt", b"x")
    with client_for(remote, mode) as ftp:
        if remote.name == "vsftpd":
            # vsftpd lists a missing directory as an empty one (226, no lines).
            assert ftp.nlst("no-such-dir") == []
        else:
            with pytest.raises(PermanentError) as caught:
                ftp.nlst("no-such-dir")
            assert caught.value.code == 550
            assert caught.value.command == "NLST no-such-dir"
        assert ftp.nlst() == ["here.txt"]


def test_site_help_returns_the_whole_reply(remote: Remote, mode: str) -> None:
    with client_for(remote, mode) as ftp:
        reply = ftp.site("HELP")
        assert reply.code == 214
        assert reply.category == 2
        assert len(reply.lines) >= 1
        assert ftp.pwd() == "/"  # the session is in step afterwards


def test_site_chmod(remote: Remote, mode: str) -> None:
    remote.put("mode.txt", b"m")
    with client_for(remote, mode) as ftp:
        reply = ftp.site("CHMOD 600 mode.txt")
        assert reply.code == 200
        assert stat.S_IMODE((remote.root / "mode.txt").stat().st_mode) == 0o600
        with pytest.raises(ReplyError) as caught:
            ftp.site("CHMOD 644 no-such-file")
        assert caught.value.code // 100 == 5
        assert caught.value.command == "SITE CHMOD 644 no-such-file"
        assert not isinstance(caught.value, UnsupportedCommand)


def test_site_unknown_subcommand_is_unsupported(remote: Remote, mode: str) -> None:
    with client_for(remote, mode) as ftp:
        with pytest.raises(UnsupportedCommand) as caught:
            ftp.site("NOSUCHTHING now")
        assert caught.value.command == "SITE NOSUCHTHING"
        assert caught.value.reply is not None and caught.value.reply.code in {500, 501, 502}
        with pytest.raises(ValueError, match="subcommand"):
            ftp.site("  ")
        with pytest.raises(ValueError, match="CR or LF"):
            ftp.site("HELP\r\nDELE x")
        assert ftp.pwd() == "/"


def test_async_client_has_the_same_methods(remote: Remote) -> None:
    remote.put("d/one", b"1")
    remote.put("d/two", b"2")

    async def go() -> tuple[list[str], int]:
        async with AsyncFTPClient.from_url(remote.url()) as ftp:
            names = await ftp.nlst("d")
            reply = await ftp.site("HELP")
            return names, reply.code

    names, code = asyncio.run(go())
    assert sorted(names) == ["one", "two"]
    assert code == 214
