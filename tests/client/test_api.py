"""The client API as its users meet it: async and sync, login sources, failures."""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ftpferry.client import (
    AsyncFTPClient,
    ConnectionFailed,
    ConnectionLost,
    FTPClient,
    FTPError,
    FTPTimeout,
    LoginError,
    NoGreeting,
)

from .conftest import Remote

pytestmark = pytest.mark.integration


def test_async_client_concurrent_calls_are_serialised(ftpferry: Remote) -> None:
    for index in range(5):
        ftpferry.put(f"f{index}.bin", b"x" * (index * 1000))

    async def scenario() -> None:
        async with AsyncFTPClient.from_url(ftpferry.url()) as ftp:
            sizes = await asyncio.gather(*(ftp.size(f"f{index}.bin") for index in range(5)))
            assert sizes == [0, 1000, 2000, 3000, 4000]
            listing, pwd, data = await asyncio.gather(
                ftp.listdir(), ftp.pwd(), ftp.download("f3.bin", io.BytesIO())
            )
            assert len(listing) == 5 and pwd == "/" and data.transferred == 3000
        assert not ftp.connected

    asyncio.run(scenario())


def test_connect_with_host_and_keywords(ftpferry: Remote) -> None:
    async def scenario() -> None:
        client = AsyncFTPClient(mode="passive")
        welcome = await client.connect(
            "127.0.0.1", port=ftpferry.port, user=ftpferry.user, password=ftpferry.password
        )
        assert welcome.code == 220
        assert client.session.password_source == "argument"
        assert await client.pwd() == "/"
        await client.close()
        await client.close()  # twice is fine
        with pytest.raises(ConnectionLost):
            await client.pwd()

    asyncio.run(scenario())


def test_password_from_environment(ftpferry: Remote, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPFERRY_PASSWORD", ftpferry.password)
    url = f"ftp://{ftpferry.user}@127.0.0.1:{ftpferry.port}/"
    with FTPClient.from_url(url, use_netrc=False) as ftp:
        assert ftp.session.password_source == "env"


def test_password_from_netrc(
    ftpferry: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FTPFERRY_PASSWORD", raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text(f'machine 127.0.0.1 login {ftpferry.user} password "{ftpferry.password}"\n')
    netrc.chmod(0o600)
    with FTPClient.from_url(f"ftp://127.0.0.1:{ftpferry.port}/", netrc_file=str(netrc)) as ftp:
        assert (ftp.session.user, ftp.session.password_source) == (ftpferry.user, "netrc")


def test_password_prompt_only_when_allowed(
    ftpferry: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FTPFERRY_PASSWORD", raising=False)
    url = f"ftp://{ftpferry.user}@127.0.0.1:{ftpferry.port}/"
    with pytest.raises(LoginError) as caught:
        FTPClient.from_url(url, use_netrc=False).__enter__()
    assert caught.value.code == 331
    assert "FTPFERRY_PASSWORD" in str(caught.value)

    prompts: list[str] = []

    def prompt(message: str) -> str:
        prompts.append(message)
        return ftpferry.password

    with FTPClient.from_url(url, use_netrc=False, ask_password=True, password_prompt=prompt) as ftp:
        assert ftp.session.password_source == "prompt"
    assert prompts == [f"Password for {ftpferry.user}@127.0.0.1: "]


def test_wrong_password(ftpferry: Remote) -> None:
    url = f"ftp://{ftpferry.user}:wrong@127.0.0.1:{ftpferry.port}/"
    with pytest.raises(LoginError) as caught:
        FTPClient.from_url(url).__enter__()
    assert caught.value.code == 530
    assert caught.value.command == "PASS ****"


def test_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(ConnectionFailed) as caught:
            FTPClient.from_url(f"ftp://u:p@127.0.0.1:{port}/").__enter__()
    assert caught.value.port == port
    assert isinstance(caught.value.os_error, ConnectionRefusedError)


def test_greeting_timeout(silent_server: int) -> None:
    client = FTPClient(connect_timeout=0.3, timeout=0.3)
    try:
        with pytest.raises(FTPTimeout) as caught:
            client.connect("127.0.0.1", port=silent_server, user="u", password="p")
        # A silent port is also what an implicit FTPS port looks like without TLS.
        assert isinstance(caught.value, NoGreeting) and not caught.value.implicit_tls
        assert "implicit FTPS" in str(caught.value)
    finally:
        client.close()


def test_server_going_away(tmp_path: Path) -> None:
    from .conftest import start_ftpferry

    server = start_ftpferry(tmp_path)
    with FTPClient.from_url(server.url()) as ftp:
        assert ftp.pwd() == "/"
        server.stop()
        with pytest.raises(ConnectionLost):
            ftp.pwd()
        assert not ftp.connected


def test_sync_client_in_a_plain_script(ftpferry: Remote) -> None:
    ftpferry.put("hello.txt", b"hello from the server\n")
    script = textwrap.dedent(
        f"""
        import io
        from ftpferry.client import FTPClient

        with FTPClient.from_url({ftpferry.url()!r}) as ftp:
            print(ftp.listdir().names())
            out = io.BytesIO()
            ftp.download("hello.txt", out)
            print(out.getvalue().decode().strip(), ftp.last_data_command)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['hello.txt']", "hello from the server EPSV"]


def test_sync_client_inside_a_running_event_loop(ftpferry: Remote) -> None:
    """The blocking client has its own loop, so it works where asyncio.run would not."""

    async def inside() -> str:
        with FTPClient.from_url(ftpferry.url()) as ftp:
            return ftp.pwd()

    assert asyncio.run(inside()) == "/"


def test_closed_sync_client_refuses_work(ftpferry: Remote) -> None:
    ftp = FTPClient.from_url(ftpferry.url())
    with ftp:
        pass
    ftp.close()
    with pytest.raises(RuntimeError, match="closed"):
        ftp.pwd()


def test_a_listing_refused_for_its_length_does_not_turn_mlsd_off(ftpferry: Remote) -> None:
    # The server answers a 4 KiB command line with 500, for MLSD and LIST alike:
    # that says nothing about MLSD, which must stay in use.
    ftpferry.put("d/a.txt", b"a")
    with FTPClient.from_url(ftpferry.url()) as ftp:
        with pytest.raises(FTPError):
            ftp.listdir("x" * 5000)
        listing = ftp.listdir("d")
        assert listing.source == "MLSD"
        assert [entry.name for entry in listing] == ["a.txt"]
