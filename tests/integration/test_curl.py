"""curl against ftpferry, in all four data-channel modes (PASV, EPSV, PORT, EPRT).

Every test runs curl with ``-v`` and checks from its trace that the data
connection really used the mode under test (curl silently falls back from
EPSV to PASV and from EPRT to PORT, which would hide a broken command),
then checks the outcome on the server's disk or in what curl wrote.
"""

from __future__ import annotations

import calendar
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (
    PASSWORD,
    USER,
    ServerProcess,
    have,
    ipv6_loopback_available,
    start_server,
)
from tests.integration.support import (
    check_log_clean,
    check_ok,
    explain,
    fresh_area,
    log_mark,
    random_bytes,
    run_client,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not have("curl"), reason="curl is not installed"),
]


@dataclass(frozen=True)
class CurlMode:
    """How to make curl use one data-channel command, and how to recognize it."""

    flags: tuple[str, ...]
    verb: str
    fallback: str


MODES = {
    "PASV": CurlMode(("--disable-epsv",), "PASV", "EPSV"),
    "EPSV": CurlMode((), "EPSV", "PASV"),
    "PORT": CurlMode(("--ftp-port", "127.0.0.1", "--disable-eprt"), "PORT", "EPRT"),
    "EPRT": CurlMode(("--ftp-port", "127.0.0.1"), "EPRT", "PORT"),
}


@pytest.fixture(params=list(MODES), ids=list(MODES))
def mode(request: pytest.FixtureRequest) -> CurlMode:
    """Each test once per data-channel mode."""
    return MODES[request.param]


@pytest.fixture
def area(shared_server: ServerProcess, request: pytest.FixtureRequest) -> str:
    """A fresh directory on the shared server, so tests never see each other's files."""
    return fresh_area(shared_server, request.node.name)


def curl(
    server: ServerProcess, mode: CurlMode, path: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run curl verbosely against ``path`` on the server with the mode's flags.

    The password has a space, so it is passed as one argv element, never
    through a shell.
    """
    argv: Sequence[str] = [
        "curl",
        "--silent",
        "--show-error",
        "--verbose",
        "--max-time",
        "45",
        "--connect-timeout",
        "10",
        "--user",
        f"{USER}:{PASSWORD}",
        *mode.flags,
        *args,
        f"{server.url}/{path}",
    ]
    return run_client(argv, cwd=cwd)


def check_mode(
    result: subprocess.CompletedProcess[str], mode: CurlMode, server: ServerProcess
) -> None:
    """Assert curl opened its data connection with the mode's verb and never fell back."""
    sent = re.findall(r"^> ([A-Z]{3,4})\b", result.stderr, flags=re.MULTILINE)
    assert mode.verb in sent, f"curl never sent {mode.verb}\n" + explain(result, server)
    assert mode.fallback not in sent, f"curl fell back to {mode.fallback}\n" + explain(
        result, server
    )


def test_upload_then_download(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(300_001, area)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)

    result = check_ok(curl(shared_server, mode, f"{area}/up.bin", "-T", str(source)), shared_server)
    check_mode(result, mode, shared_server)
    assert (shared_server.root / area / "up.bin").read_bytes() == payload

    target = tmp_path / "down.bin"
    result = check_ok(curl(shared_server, mode, f"{area}/up.bin", "-o", str(target)), shared_server)
    check_mode(result, mode, shared_server)
    assert target.read_bytes() == payload


def test_download_to_stdout(shared_server: ServerProcess, mode: CurlMode, area: str) -> None:
    (shared_server.root / area / "hello.txt").write_bytes(b"hello, ferry\n")
    result = check_ok(curl(shared_server, mode, f"{area}/hello.txt"), shared_server)
    check_mode(result, mode, shared_server)
    assert result.stdout == "hello, ferry\n"


def test_resume_download(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(200_000, area)
    (shared_server.root / area / "full.bin").write_bytes(payload)
    target = tmp_path / "partial.bin"
    target.write_bytes(payload[:70_000])

    result = curl(shared_server, mode, f"{area}/full.bin", "-C", "-", "-o", str(target))
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert "> REST 70000" in result.stderr, explain(result, shared_server)
    assert target.read_bytes() == payload


def test_resume_upload(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(180_000, area)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    on_server = shared_server.root / area / "partial.bin"
    on_server.write_bytes(payload[:65_536])

    result = curl(shared_server, mode, f"{area}/partial.bin", "-C", "-", "-T", str(source))
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert on_server.read_bytes() == payload


def test_append_upload(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    first, second = random_bytes(10_000, "first"), random_bytes(25_000, "second")
    on_server = shared_server.root / area / "log.bin"
    on_server.write_bytes(first)
    source = tmp_path / "more.bin"
    source.write_bytes(second)

    result = curl(shared_server, mode, f"{area}/log.bin", "--append", "-T", str(source))
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert "> APPE log.bin" in result.stderr, explain(result, shared_server)
    assert on_server.read_bytes() == first + second


def test_directory_listing(shared_server: ServerProcess, mode: CurlMode, area: str) -> None:
    directory = shared_server.root / area
    (directory / "one.txt").write_bytes(b"1")
    (directory / "two words.txt").write_bytes(b"22")
    (directory / "sub").mkdir()

    result = check_ok(curl(shared_server, mode, f"{area}/"), shared_server)
    check_mode(result, mode, shared_server)
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    by_name = {line.split(None, 8)[8]: line for line in lines}
    assert set(by_name) == {"one.txt", "two words.txt", "sub"}
    assert by_name["sub"].startswith("d")
    assert by_name["one.txt"].startswith("-")
    assert by_name["two words.txt"].split()[4] == "2"


def test_list_only(shared_server: ServerProcess, mode: CurlMode, area: str) -> None:
    directory = shared_server.root / area
    for name in ("alpha.bin", "beta gamma.txt", "héllo wörld ✓.txt"):
        (directory / name).write_bytes(b"x")
    (directory / "subdir").mkdir()

    result = check_ok(curl(shared_server, mode, f"{area}/", "--list-only"), shared_server)
    check_mode(result, mode, shared_server)
    assert "> NLST" in result.stderr, explain(result, shared_server)
    assert sorted(result.stdout.splitlines()) == sorted(
        ["alpha.bin", "beta gamma.txt", "héllo wörld ✓.txt", "subdir"]
    )


def test_quote_mkdir_rename_delete_rmdir(
    shared_server: ServerProcess, mode: CurlMode, area: str
) -> None:
    directory = shared_server.root / area
    (directory / "a.txt").write_bytes(b"contents of a")

    result = curl(
        shared_server,
        mode,
        f"{area}/",
        "-Q",
        f"MKD {area}/made",
        "-Q",
        f"RNFR {area}/a.txt",
        "-Q",
        f"RNTO {area}/made/b.txt",
        "-o",
        "/dev/null",
    )
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert not (directory / "a.txt").exists()
    assert (directory / "made" / "b.txt").read_bytes() == b"contents of a"

    result = curl(
        shared_server,
        mode,
        f"{area}/",
        "-Q",
        f"DELE {area}/made/b.txt",
        "-Q",
        f"RMD {area}/made",
        "-o",
        "/dev/null",
    )
    check_ok(result, shared_server)
    assert not (directory / "made").exists()
    assert list(directory.iterdir()) == []


def test_quote_failure_is_reported(shared_server: ServerProcess, mode: CurlMode, area: str) -> None:
    """A refused quote command must make curl fail (exit 21), not pass silently."""
    result = curl(shared_server, mode, f"{area}/", "-Q", f"DELE {area}/missing.txt")
    assert result.returncode == 21, explain(result, shared_server)
    assert "< 550" in result.stderr, explain(result, shared_server)


def test_ascii_download(shared_server: ServerProcess, mode: CurlMode, area: str) -> None:
    """``;type=a`` makes curl send TYPE A; curl on Linux turns the CRLF wire form back to LF.

    What the wire carries is checked byte for byte with ftplib in test_ftplib.py.
    """
    text = b"first line\nsecond line\n\nlast line without newline"
    (shared_server.root / area / "unix.txt").write_bytes(text)

    result = check_ok(curl(shared_server, mode, f"{area}/unix.txt;type=a"), shared_server)
    check_mode(result, mode, shared_server)
    assert "> TYPE A" in result.stderr, explain(result, shared_server)
    assert result.stdout.encode() == text

    result = check_ok(curl(shared_server, mode, f"{area}/unix.txt", "--use-ascii"), shared_server)
    assert "> TYPE A" in result.stderr, explain(result, shared_server)
    assert result.stdout.encode() == text


def test_ascii_upload_stores_lf(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    """curl --use-ascii sends LF lines as CRLF; the server must store them as LF again."""
    text = b"alpha\nbeta\ngamma\n"
    source = tmp_path / "unix.txt"
    source.write_bytes(text)

    result = curl(shared_server, mode, f"{area}/stored.txt", "--use-ascii", "-T", str(source))
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert "> TYPE A" in result.stderr, explain(result, shared_server)
    assert (shared_server.root / area / "stored.txt").read_bytes() == text


def test_create_missing_directories(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(12_345, area)
    source = tmp_path / "deep.bin"
    source.write_bytes(payload)

    refused = curl(shared_server, mode, f"{area}/x/y/z/deep.bin", "-T", str(source))
    assert refused.returncode != 0, explain(refused, shared_server)
    assert not (shared_server.root / area / "x").exists()

    result = curl(
        shared_server, mode, f"{area}/x/y/z/deep.bin", "--ftp-create-dirs", "-T", str(source)
    )
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert (shared_server.root / area / "x" / "y" / "z" / "deep.bin").read_bytes() == payload


def test_byte_range(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    """``-r`` sends REST, closes the data connection early and aborts the rest.

    The file is far larger than the socket buffers, so the server is still
    sending when curl hangs up.  Besides the bytes, check the server log:
    cutting a transfer short must not raise inside the server.  Several
    ranges, because the hang-up and the ABOR race each other.
    """
    payload = random_bytes(8_000_000, area)
    (shared_server.root / area / "big.bin").write_bytes(payload)
    mark = log_mark(shared_server)
    for start in (1000, 0, 65_536, 3_000_001, 7_000_000):
        target = tmp_path / f"range-{start}.bin"
        end = start + 1999
        result = curl(
            shared_server, mode, f"{area}/big.bin", "-r", f"{start}-{end}", "-o", str(target)
        )
        check_ok(result, shared_server)
        check_mode(result, mode, shared_server)
        if start:
            assert f"> REST {start}" in result.stderr, explain(result, shared_server)
        assert target.read_bytes() == payload[start : end + 1]
    assert shared_server.alive()
    check_log_clean(shared_server, mark)


def test_head_request(shared_server: ServerProcess, mode: CurlMode, area: str) -> None:
    """``-I`` asks SIZE and MDTM over the control connection and transfers nothing."""
    path = shared_server.root / area / "meta.bin"
    path.write_bytes(b"m" * 4321)
    stamp = calendar.timegm((2023, 4, 5, 6, 7, 8))
    os.utime(path, (stamp, stamp))
    result = check_ok(curl(shared_server, mode, f"{area}/meta.bin", "-I"), shared_server)
    assert "Content-Length: 4321" in result.stdout, result.stdout
    assert "Last-Modified: Wed, 05 Apr 2023 06:07:08 GMT" in result.stdout, result.stdout


@pytest.mark.parametrize("method", ["multicwd", "singlecwd", "nocwd"])
def test_ftp_methods(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path, method: str
) -> None:
    """However curl walks to a nested file (one CWD per level, one CWD, or full paths).

    (``--ftp-create-dirs`` is tested separately: with singlecwd curl sends one
    multi-level MKD, which no server is expected to honour.)
    """
    payload = random_bytes(50_000, f"{area}{method}")
    source = tmp_path / "nested.bin"
    source.write_bytes(payload)
    remote = f"{area}/p q/r/nested.bin"
    (shared_server.root / remote).parent.mkdir(parents=True)
    url_path = remote.replace(" ", "%20")
    result = curl(shared_server, mode, url_path, "--ftp-method", method, "-T", str(source))
    check_ok(result, shared_server)
    assert (shared_server.root / remote).read_bytes() == payload
    target = tmp_path / "back.bin"
    result = curl(shared_server, mode, url_path, "--ftp-method", method, "-o", str(target))
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert target.read_bytes() == payload


def test_missing_file_fails(
    shared_server: ServerProcess, mode: CurlMode, area: str, tmp_path: Path
) -> None:
    """RETR of a missing file: curl exits 78 (remote file not found)."""
    result = curl(shared_server, mode, f"{area}/nope.bin", "-o", str(tmp_path / "nope.bin"))
    assert result.returncode == 78, explain(result, shared_server)


def test_wrong_password_fails(shared_server: ServerProcess, area: str) -> None:
    """A bad password: curl exits 67 (login denied)."""
    result = run_client(
        ["curl", "-sS", "--max-time", "30", "--user", f"{USER}:wrong", f"{shared_server.url}/"]
    )
    assert result.returncode == 67, explain(result, shared_server)


@pytest.fixture(scope="module")
def ipv6_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on ::1 only, shared by the IPv6 tests of this module."""
    if not ipv6_loopback_available():
        pytest.skip("IPv6 loopback ::1 is not available")
    server = start_server(tmp_path_factory.mktemp("ipv6"), host="::1")
    yield server
    server.stop()


IPV6_MODES = {
    "EPSV": CurlMode((), "EPSV", "PASV"),
    "EPRT": CurlMode(("--ftp-port", "-"), "EPRT", "PORT"),
}


@pytest.mark.parametrize("mode_name", list(IPV6_MODES))
def test_ipv6_upload_list_download(
    ipv6_server: ServerProcess, mode_name: str, tmp_path: Path
) -> None:
    """Over IPv6 only EPSV and EPRT can work; ``-P -`` sends the control address."""
    mode = IPV6_MODES[mode_name]
    area = fresh_area(ipv6_server, f"v6_{mode_name}")
    payload = random_bytes(400_000, area)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)

    result = check_ok(curl(ipv6_server, mode, f"{area}/up.bin", "-T", str(source)), ipv6_server)
    check_mode(result, mode, ipv6_server)
    assert (ipv6_server.root / area / "up.bin").read_bytes() == payload

    result = check_ok(curl(ipv6_server, mode, f"{area}/", "--list-only"), ipv6_server)
    check_mode(result, mode, ipv6_server)
    assert result.stdout.splitlines() == ["up.bin"]

    target = tmp_path / "down.bin"
    result = check_ok(curl(ipv6_server, mode, f"{area}/up.bin", "-o", str(target)), ipv6_server)
    check_mode(result, mode, ipv6_server)
    assert target.read_bytes() == payload
