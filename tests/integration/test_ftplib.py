"""Python's ftplib against ftpferry: every command a client can send, passive and active.

ftplib sends exactly what it is told, so these tests can check details the
other clients hide: the bytes TYPE A puts on the wire, reply codes and reply
texts, REST with STOR, STOU's ``150 FILE:`` announcement.  Each test runs
once with PASV (``passive``) and once with PORT (``active``); the IPv6 tests
at the end cover EPSV and EPRT.
"""

from __future__ import annotations

import calendar
import contextlib
import ftplib
import io
import os
import re
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    PASSWORD,
    USER,
    ServerProcess,
    ipv6_loopback_available,
    start_server,
)
from tests.integration.support import (
    check_log_clean,
    fresh_area,
    ftp_login,
    log_mark,
    log_tail,
    random_bytes,
)

pytestmark = pytest.mark.integration

UTF8_NAME = "héllo wörld ✓.txt"
AWKWARD_NAMES = [UTF8_NAME, "two  spaces.txt", " leading space.txt", "trailing space.txt "]
MIB = 1024 * 1024
MODES = {"passive": True, "active": False}


class Remote:
    """An ftplib session inside a fresh directory of the shared server.

    ``dir`` is that directory on disk, so a test can set up and check files
    directly; ``ftp`` has already done CWD into it.
    """

    def __init__(self, server: ServerProcess, ftp: ftplib.FTP, area: str) -> None:
        self.server = server
        self.ftp = ftp
        self.area = area
        self.dir = server.root / area

    def retr(self, name: str, rest: int | None = None) -> bytes:
        """Download a file in binary mode."""
        sink = io.BytesIO()
        self.ftp.retrbinary(f"RETR {name}", sink.write, rest=rest)
        return sink.getvalue()

    def stor(self, name: str, data: bytes, verb: str = "STOR", rest: int | None = None) -> str:
        """Upload bytes in binary mode; returns the final reply."""
        return self.ftp.storbinary(f"{verb} {name}", io.BytesIO(data), rest=rest)


@pytest.fixture(params=list(MODES), ids=list(MODES))
def remote(shared_server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[Remote]:
    """A logged-in session (passive or active) working in its own directory."""
    area = fresh_area(shared_server, request.node.name)
    ftp = ftp_login(shared_server, passive=MODES[request.param])
    try:
        ftp.cwd(area)
        yield Remote(shared_server, ftp, area)
        with contextlib.suppress(ftplib.Error, OSError):  # a failed test may leave it broken
            ftp.quit()
    finally:
        ftp.close()


def open_data(ftp: ftplib.FTP, command: str) -> tuple[socket.socket, str]:
    """Like ``ftp.transfercmd`` but also returns the preliminary reply text.

    ftplib throws the ``150`` text away; STOU announces the stored name in it.
    """
    if ftp.passiveserver:
        host, port = ftp.makepasv()
        conn = socket.create_connection((host, port), timeout=ftp.timeout)
        try:
            reply = ftp.sendcmd(command)
        except BaseException:
            conn.close()
            raise
    else:
        with ftp.makeport() as listener:
            reply = ftp.sendcmd(command)
            conn, _ = listener.accept()
            conn.settimeout(ftp.timeout)
    if reply[0] == "2":
        reply = ftp.getresp()
    if not reply.startswith("1"):
        conn.close()
        raise ftplib.error_reply(reply)
    return conn, reply


def receive_all(conn: socket.socket) -> bytes:
    """Read a data connection to its end."""
    chunks = []
    with conn:
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_ascii_retr(ftp: ftplib.FTP, name: str) -> bytes:
    """The exact bytes a TYPE A RETR puts on the wire (retrlines would hide them)."""
    ftp.voidcmd("TYPE A")
    data = receive_all(ftp.transfercmd(f"RETR {name}"))
    ftp.voidresp()
    return data


def raw_ascii_stor(ftp: ftplib.FTP, name: str, wire: bytes) -> None:
    """Send ``wire`` as is under TYPE A (storlines would rewrite the line ends)."""
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd(f"STOR {name}") as conn:
        conn.sendall(wire)
    ftp.voidresp()


LIST_LINE = re.compile(
    r"^(?P<mode>[-dlcbps][-rwxsStT]{9})\s+\d+\s+\S+\s+\S+\s+(?P<size>\d+)\s+"
    r"(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<when>\d{1,2}:\d{2}|\d{4}) (?P<name>.*)$"
)


def parse_list_line(line: str) -> dict[str, str]:
    """Fields of an ``ls -l`` style LIST line.

    The name is everything after the single space that follows the time or
    year, so names with leading or repeated spaces come back intact (a plain
    ``split()`` would eat them).
    """
    match = LIST_LINE.match(line)
    assert match, f"not an ls -l line: {line!r}"
    return match.groupdict()


def perm_code(error: pytest.ExceptionInfo[ftplib.Error]) -> str:
    """The three-digit code of an ftplib error."""
    return str(error.value)[:3]


# -- transfers ---------------------------------------------------------------------------


def test_binary_round_trip(remote: Remote) -> None:
    payload = random_bytes(3 * MIB + 17, remote.area)
    assert remote.stor("blob.bin", payload).startswith("226")
    assert (remote.dir / "blob.bin").read_bytes() == payload
    assert remote.retr("blob.bin") == payload


def test_empty_file_round_trip(remote: Remote) -> None:
    remote.stor("empty.bin", b"")
    assert (remote.dir / "empty.bin").read_bytes() == b""
    assert remote.retr("empty.bin") == b""


def test_upload_replaces_longer_file(remote: Remote) -> None:
    (remote.dir / "f.bin").write_bytes(b"x" * 10_000)
    remote.stor("f.bin", b"short")
    assert (remote.dir / "f.bin").read_bytes() == b"short"


def test_ascii_download_sends_crlf(remote: Remote) -> None:
    """LF becomes CRLF on the wire; a CRLF already in the file is not doubled.

    The file is larger than one read chunk and has a CRLF straddling the 1 MiB
    boundary, so the conversion must carry its state across chunks.
    """
    line = b"the quick brown fox jumps over the lazy dog\n"
    body = bytearray(line * (2 * MIB // len(line) + 1))
    body[MIB - 1 : MIB + 1] = b"\r\n"
    body += b"dos line\r\nunix line\nno newline at end"
    (remote.dir / "unix.txt").write_bytes(bytes(body))
    expected = re.sub(rb"(?<!\r)\n", b"\r\n", bytes(body))

    assert raw_ascii_retr(remote.ftp, "unix.txt") == expected

    lines: list[str] = []
    remote.ftp.retrlines("RETR unix.txt", lines.append)
    assert "\n".join(lines).encode() == bytes(body).replace(b"\r\n", b"\n")


def test_ascii_download_honours_rest(remote: Remote) -> None:
    """REST in TYPE A counts bytes of the file; what follows is converted."""
    (remote.dir / "r.txt").write_bytes(b"one\ntwo\nthree\n")
    remote.ftp.voidcmd("TYPE A")
    remote.ftp.sendcmd("REST 4")
    data = receive_all(remote.ftp.transfercmd("RETR r.txt"))
    remote.ftp.voidresp()
    assert data == b"two\r\nthree\r\n"


def test_ascii_upload_stores_lf(remote: Remote) -> None:
    """CRLF sent under TYPE A is stored as LF; lone CR and lone LF are kept."""
    remote.ftp.storlines("STOR lines.txt", io.BytesIO(b"alpha\r\nbeta\r\ngamma\r\n"))
    assert (remote.dir / "lines.txt").read_bytes() == b"alpha\nbeta\ngamma\n"

    chunk = b"0123456789abcdef" * 4095 + b"0123456789abcd\r\n"  # 64 KiB, ends with CRLF
    wire = chunk * 40 + b"lone\rcr and lone\nlf\r\nlast"
    raw_ascii_stor(remote.ftp, "big.txt", wire)
    assert (remote.dir / "big.txt").read_bytes() == wire.replace(b"\r\n", b"\n")


def test_binary_mode_keeps_line_ends(remote: Remote) -> None:
    """After TYPE A, TYPE I must switch conversion off again."""
    data = b"a\r\nb\nc\r"
    remote.ftp.voidcmd("TYPE A")
    remote.ftp.voidcmd("TYPE I")
    with remote.ftp.transfercmd("STOR exact.bin") as conn:
        conn.sendall(data)
    remote.ftp.voidresp()
    assert (remote.dir / "exact.bin").read_bytes() == data
    assert remote.retr("exact.bin") == data


@pytest.mark.parametrize("offset", [0, 1, 65_536, 999_999, 1_000_000], ids=lambda n: f"rest{n}")
def test_rest_retr(remote: Remote, offset: int) -> None:
    payload = random_bytes(1_000_000, remote.area)
    (remote.dir / "r.bin").write_bytes(payload)
    assert remote.retr("r.bin", rest=offset) == payload[offset:]


def test_rest_stor_resumes_upload(remote: Remote) -> None:
    payload = random_bytes(1_500_000, remote.area)
    (remote.dir / "partial.bin").write_bytes(payload[:600_000])
    remote.stor("partial.bin", payload[600_000:], rest=600_000)
    assert (remote.dir / "partial.bin").read_bytes() == payload


def test_rest_is_forgotten_after_one_transfer(remote: Remote) -> None:
    payload = random_bytes(10_000, remote.area)
    (remote.dir / "r.bin").write_bytes(payload)
    assert remote.retr("r.bin", rest=5_000) == payload[5_000:]
    assert remote.retr("r.bin") == payload


def test_rest_rejects_garbage(remote: Remote) -> None:
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("REST -5")
    assert perm_code(error) == "501"
    with pytest.raises(ftplib.error_perm):
        remote.ftp.sendcmd("REST abc")


def test_rest_beyond_4_gib(remote: Remote) -> None:
    """Offsets and sizes past 32 bits (a sparse 5 GiB file, so the disk stays empty)."""
    size = 5 * 1024 * MIB
    tail = random_bytes(100_000, remote.area)
    with (remote.dir / "huge.bin").open("wb") as handle:
        handle.truncate(size - len(tail))
        handle.seek(size - len(tail))
        handle.write(tail)
    assert remote.ftp.size("huge.bin") == size
    assert remote.retr("huge.bin", rest=size - len(tail)) == tail
    assert remote.retr("huge.bin", rest=size - 10) == tail[-10:]


def test_appe(remote: Remote) -> None:
    first, second = random_bytes(100_000, "first"), random_bytes(70_000, "second")
    remote.stor("log.bin", first, verb="APPE")  # APPE creates a missing file
    assert (remote.dir / "log.bin").read_bytes() == first
    remote.stor("log.bin", second, verb="APPE")
    assert (remote.dir / "log.bin").read_bytes() == first + second
    assert remote.retr("log.bin") == first + second


def test_stou_announces_a_fresh_name(remote: Remote) -> None:
    (remote.dir / "report.txt").write_bytes(b"existing")
    names = []
    for body in (b"first unique", b"second unique"):
        conn, reply = open_data(remote.ftp, "STOU report.txt")
        with conn:
            conn.sendall(body)
        assert remote.ftp.voidresp().startswith("226")
        match = re.fullmatch(r"150 FILE: (.+)", reply)
        assert match, reply
        names.append(match.group(1))
        assert (remote.dir / match.group(1)).read_bytes() == body
    assert len(set(names)) == 2
    assert "report.txt" not in names
    assert (remote.dir / "report.txt").read_bytes() == b"existing"


def test_stou_without_name(remote: Remote) -> None:
    conn, reply = open_data(remote.ftp, "STOU")
    with conn:
        conn.sendall(b"anonymous upload")
    remote.ftp.voidresp()
    name = reply.removeprefix("150 FILE: ")
    assert name != reply, reply
    assert (remote.dir / name).read_bytes() == b"anonymous upload"


def test_abort_a_download(remote: Remote) -> None:
    """ABOR during RETR: 426 then 226, and the session stays usable."""
    with (remote.dir / "huge.bin").open("wb") as handle:
        handle.truncate(256 * MIB)  # sparse; far more than the socket buffers hold
    conn = remote.ftp.transfercmd("RETR huge.bin")
    try:
        assert len(conn.recv(65536)) > 0
        first = remote.ftp.abort()
    finally:
        conn.close()
    assert first[:3] in {"426", "226"}, first
    if first.startswith("426"):
        assert remote.ftp.voidresp().startswith("226")
    assert remote.ftp.voidcmd("NOOP").startswith("200")
    remote.stor("after.bin", b"still works")
    assert remote.retr("after.bin") == b"still works"


def test_stor_into_missing_directory(remote: Remote) -> None:
    with pytest.raises(ftplib.error_perm) as error:
        remote.stor("no/such/dir/file.bin", b"data")
    assert perm_code(error) == "550"
    assert list(remote.dir.iterdir()) == []
    assert remote.ftp.voidcmd("NOOP").startswith("200")


def test_transfer_without_data_channel_is_425(remote: Remote) -> None:
    """RETR with no PORT/PASV before it: 425, and the session goes on."""
    (remote.dir / "f.txt").write_bytes(b"f")
    with pytest.raises(ftplib.error_temp) as error:
        remote.ftp.sendcmd("RETR f.txt")
    assert perm_code(error) == "425"
    assert remote.retr("f.txt") == b"f"


def test_active_connection_refused_is_425(remote: Remote) -> None:
    """PORT to a port nobody listens on: 425 for the transfer, session usable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (remote.dir / "f.txt").write_bytes(b"f")
    remote.ftp.sendcmd(f"PORT 127,0,0,1,{port >> 8},{port & 0xFF}")
    with pytest.raises(ftplib.error_temp) as error:
        remote.ftp.sendcmd("RETR f.txt")
    assert perm_code(error) == "425"
    assert remote.retr("f.txt") == b"f"


@pytest.mark.parametrize(
    "port_argument",
    ["10,1,2,3,200,10", "127,0,0,2,200,10", "127,0,0,1,0,21"],
    ids=["foreign-host", "other-loopback", "privileged-port"],
)
def test_port_bounce_protection(remote: Remote, port_argument: str) -> None:
    """PORT may only name the client's own address and an unprivileged port."""
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd(f"PORT {port_argument}")
    assert perm_code(error) == "501"
    assert remote.ftp.voidcmd("NOOP").startswith("200")


def test_passive_data_timeout(tmp_path: Path) -> None:
    """A PASV port nobody connects to: 425 after --data-timeout, session usable."""
    server = start_server(tmp_path, "--data-timeout", "2")
    try:
        (server.root / "f.txt").write_bytes(b"f")
        ftp = ftp_login(server)
        try:
            ftp.sendcmd("PASV")
            started = time.monotonic()
            with pytest.raises(ftplib.error_temp) as error:
                ftp.sendcmd("RETR f.txt")
            assert perm_code(error) == "425"
            assert 1.5 < time.monotonic() - started < 15
            sink = io.BytesIO()
            ftp.retrbinary("RETR f.txt", sink.write)
            assert sink.getvalue() == b"f"
            ftp.quit()
        finally:
            ftp.close()
    finally:
        server.stop()


def test_name_too_long(remote: Remote) -> None:
    """A name beyond the file system's limit: 553 (name not allowed), not a crash."""
    with pytest.raises(ftplib.error_perm) as error:
        remote.stor("n" * 300, b"data")
    assert perm_code(error) in {"553", "550"}
    assert remote.ftp.voidcmd("NOOP").startswith("200")


def test_empty_directory_listings(remote: Remote) -> None:
    assert remote.ftp.nlst() == []
    lines: list[str] = []
    remote.ftp.dir(lines.append)
    assert lines == []
    entries = [name for name, facts in remote.ftp.mlsd() if facts["type"] not in {"cdir", "pdir"}]
    assert entries == []


def test_stat_during_a_transfer(remote: Remote) -> None:
    """STAT while a download runs answers at once with its progress (RFC 959)."""
    payload = random_bytes(16 * MIB, remote.area)
    (remote.dir / "big.bin").write_bytes(payload)
    with remote.ftp.transfercmd("RETR big.bin") as conn:
        received = bytearray(conn.recv(65536))
        remote.ftp.putcmd("STAT")
        status = remote.ftp.getmultiline()
        while chunk := conn.recv(1 << 20):
            received += chunk
    assert status.startswith("211-"), status
    assert "RETR" in status and "big.bin" in status, status
    assert remote.ftp.voidresp().startswith("226")
    assert bytes(received) == payload


def test_abort_an_upload(remote: Remote) -> None:
    """ABOR during STOR: the part received stays, the session stays usable."""
    conn = remote.ftp.transfercmd("STOR cut.bin")
    try:
        conn.sendall(b"x" * 100_000)
        first = remote.ftp.abort()
    finally:
        conn.close()
    assert first[:3] in {"426", "226"}, first
    if first.startswith("426"):
        assert remote.ftp.voidresp()[:3] in {"225", "226"}
    assert remote.ftp.voidcmd("NOOP").startswith("200")
    assert (remote.dir / "cut.bin").stat().st_size <= 100_000
    remote.stor("whole.bin", b"fine")
    assert (remote.dir / "whole.bin").read_bytes() == b"fine"


def test_abort_after_closing_the_data_connection(remote: Remote) -> None:
    """Close the data connection, then ABOR, as curl and lftp do to stop a download.

    The transfer is then both broken (the client hung up) and aborted; RFC 959
    still wants a reply to ABOR after the transfer's 426: 226 (or 225 when no
    transfer was left to abort).  Repeated because the two events race.
    """
    (remote.dir / "big.bin").write_bytes(random_bytes(8 * MIB, remote.area))
    ftp = remote.ftp
    assert ftp.sock is not None
    ftp.sock.settimeout(5)  # a missing reply must fail fast, not hang
    mark = log_mark(remote.server)
    for attempt in range(10):
        conn = ftp.transfercmd("RETR big.bin")
        conn.recv(2000)
        conn.close()
        ftp.putcmd("ABOR")
        first = ftp.getmultiline()
        assert first[:3] in {"426", "226"}, (attempt, first)
        try:
            second = ftp.getmultiline()
        except TimeoutError:
            pytest.fail(
                f"attempt {attempt}: no reply to ABOR after {first!r}\n" + log_tail(remote.server)
            )
        assert second[:3] in {"225", "226"}, (attempt, first, second)
        assert ftp.voidcmd("NOOP").startswith("200")
    check_log_clean(remote.server, mark)


# -- the name space ----------------------------------------------------------------------


def test_rename(remote: Remote) -> None:
    (remote.dir / "old.txt").write_bytes(b"payload")
    (remote.dir / "sub").mkdir()
    assert remote.ftp.rename("old.txt", "new.txt").startswith("250")
    assert (remote.dir / "new.txt").read_bytes() == b"payload"
    remote.ftp.rename("new.txt", f"/{remote.area}/sub/moved.txt")
    assert (remote.dir / "sub" / "moved.txt").read_bytes() == b"payload"
    assert sorted(p.name for p in remote.dir.iterdir()) == ["sub"]
    remote.ftp.rename("sub", "renamed dir")
    assert (remote.dir / "renamed dir" / "moved.txt").exists()


def test_rename_errors(remote: Remote) -> None:
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("RNFR missing.txt")
    assert perm_code(error) == "550"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("RNTO somewhere.txt")
    assert perm_code(error) == "503"
    (remote.dir / "a.txt").write_bytes(b"a")
    remote.ftp.sendcmd("RNFR a.txt")
    remote.ftp.voidcmd("NOOP")  # anything between RNFR and RNTO cancels the rename
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("RNTO b.txt")
    assert perm_code(error) == "503"
    assert (remote.dir / "a.txt").exists()


def test_delete(remote: Remote) -> None:
    (remote.dir / "doomed.txt").write_bytes(b"bye")
    assert remote.ftp.delete("doomed.txt").startswith("250")
    assert not (remote.dir / "doomed.txt").exists()
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.delete("doomed.txt")
    assert perm_code(error) == "550"
    (remote.dir / "adir").mkdir()
    with pytest.raises(ftplib.error_perm):
        remote.ftp.delete("adir")
    assert (remote.dir / "adir").is_dir()


def test_mkd_rmd(remote: Remote) -> None:
    assert remote.ftp.mkd("newdir") == f"/{remote.area}/newdir"
    assert (remote.dir / "newdir").is_dir()
    assert remote.ftp.mkd("/" + remote.area + "/newdir/inner") == f"/{remote.area}/newdir/inner"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.mkd("newdir")
    assert perm_code(error) == "550"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.rmd("newdir")
    assert perm_code(error) == "550"
    assert (remote.dir / "newdir" / "inner").is_dir()
    remote.ftp.rmd("newdir/inner")
    remote.ftp.rmd("newdir")
    assert list(remote.dir.iterdir()) == []
    with pytest.raises(ftplib.error_perm):
        remote.ftp.rmd("newdir")


def test_mkd_reply_quotes_embedded_quotes(remote: Remote) -> None:
    """RFC 959: a double quote in a 257 path is doubled."""
    reply = remote.ftp.sendcmd('MKD say "hi"')
    assert reply.startswith(f'257 "/{remote.area}/say ""hi"""'), reply
    assert (remote.dir / 'say "hi"').is_dir()


def test_pwd_cwd_cdup(remote: Remote) -> None:
    ftp = remote.ftp
    (remote.dir / "a" / "b").mkdir(parents=True)
    (remote.dir / "file.txt").write_bytes(b"f")
    assert ftp.pwd() == f"/{remote.area}"
    ftp.cwd("a/b")
    assert ftp.pwd() == f"/{remote.area}/a/b"
    assert ftp.sendcmd("CDUP").startswith(("200", "250"))
    assert ftp.pwd() == f"/{remote.area}/a"
    ftp.cwd("..")
    assert ftp.pwd() == f"/{remote.area}"
    ftp.cwd("/")
    assert ftp.pwd() == "/"
    ftp.sendcmd("CDUP")
    assert ftp.pwd() == "/"
    ftp.cwd("/../../..")
    assert ftp.pwd() == "/"
    with pytest.raises(ftplib.error_perm) as error:
        ftp.cwd(f"/{remote.area}/file.txt")
    assert perm_code(error) == "550"
    with pytest.raises(ftplib.error_perm) as error:
        ftp.cwd(f"/{remote.area}/missing")
    assert perm_code(error) == "550"
    assert ftp.pwd() == "/"


def test_size_and_mdtm(remote: Remote) -> None:
    (remote.dir / "sized.bin").write_bytes(b"z" * 123_457)
    stamp = calendar.timegm((2020, 2, 29, 23, 59, 58))
    os.utime(remote.dir / "sized.bin", (stamp, stamp))
    assert remote.ftp.size("sized.bin") == 123_457
    assert remote.ftp.sendcmd("MDTM sized.bin") == "213 20200229235958"
    (remote.dir / "d").mkdir()
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.size("d")
    assert perm_code(error) == "550"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.size("missing")
    assert perm_code(error) == "550"


def test_mfmt_sets_modification_time(remote: Remote) -> None:
    (remote.dir / "t.txt").write_bytes(b"t")
    reply = remote.ftp.sendcmd("MFMT 20190102030405 t.txt")
    assert reply.startswith("213"), reply
    assert int((remote.dir / "t.txt").stat().st_mtime) == calendar.timegm((2019, 1, 2, 3, 4, 5))
    assert remote.ftp.sendcmd("MDTM t.txt") == "213 20190102030405"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("MFMT notatime t.txt")
    assert perm_code(error) == "501"


def test_site_chmod(remote: Remote) -> None:
    (remote.dir / "c.txt").write_bytes(b"c")
    assert remote.ftp.sendcmd("SITE CHMOD 600 c.txt").startswith("200")
    assert stat.S_IMODE((remote.dir / "c.txt").stat().st_mode) == 0o600
    remote.ftp.sendcmd("SITE CHMOD 0644 c.txt")
    assert stat.S_IMODE((remote.dir / "c.txt").stat().st_mode) == 0o644
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("SITE CHMOD 999 c.txt")
    assert perm_code(error) == "501"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("SITE CHMOD 644 missing.txt")
    assert perm_code(error) == "550"


# -- listings ----------------------------------------------------------------------------


@pytest.fixture
def populated(remote: Remote) -> Remote:
    """A directory with a file, a space, a UTF-8 name, a dot file and a subdirectory."""
    (remote.dir / "plain.bin").write_bytes(b"p" * 1000)
    (remote.dir / "with space.txt").write_bytes(b"s")
    (remote.dir / UTF8_NAME).write_bytes(b"u" * 7)
    (remote.dir / "sub").mkdir()
    (remote.dir / "sub" / "inner.txt").write_bytes(b"i")
    (remote.dir / ".hidden").write_bytes(b"h")
    stamp = calendar.timegm((2022, 6, 7, 8, 9, 10))
    os.utime(remote.dir / "plain.bin", (stamp, stamp))
    return remote


ALL_NAMES = {"plain.bin", "with space.txt", UTF8_NAME, "sub", ".hidden"}


def test_nlst(populated: Remote) -> None:
    ftp = populated.ftp
    assert set(ftp.nlst()) == ALL_NAMES
    assert ftp.nlst("sub") == ["inner.txt"]
    assert set(ftp.nlst("*.txt")) == {"with space.txt", UTF8_NAME}
    with pytest.raises(ftplib.error_perm) as error:
        ftp.nlst("missing-dir")
    assert perm_code(error) == "550"


def test_list(populated: Remote) -> None:
    lines: list[str] = []
    populated.ftp.dir(lines.append)
    by_name = {fields["name"]: fields for fields in map(parse_list_line, lines)}
    assert set(by_name) == ALL_NAMES
    assert by_name["sub"]["mode"].startswith("d")
    assert by_name["plain.bin"]["mode"].startswith("-rw")
    assert by_name["plain.bin"]["size"] == "1000"
    plain = by_name["plain.bin"]
    assert (plain["month"], plain["day"], plain["when"]) == ("Jun", "7", "2022")

    lines.clear()
    populated.ftp.dir("-la sub", lines.append)
    assert [parse_list_line(line)["name"] for line in lines] == ["inner.txt"]


def test_list_of_a_file_shows_that_file(populated: Remote) -> None:
    """LIST and NLST of a file answer with the file alone, as ``ls -l file`` does;
    a missing name is 550 for both."""
    lines: list[str] = []
    populated.ftp.dir("plain.bin", lines.append)
    assert [parse_list_line(line)["name"] for line in lines] == ["plain.bin"]
    assert parse_list_line(lines[0])["size"] == "1000"
    assert populated.ftp.nlst("sub/inner.txt") == ["inner.txt"]
    for command in ("LIST", "NLST"):
        with pytest.raises(ftplib.error_perm) as error:
            populated.ftp.retrlines(f"{command} missing.bin", lines.append)
        assert perm_code(error) == "550"


def test_mlsd_facts(populated: Remote) -> None:
    entries = dict(populated.ftp.mlsd())
    listed = {name for name, facts in entries.items() if facts.get("type") not in {"cdir", "pdir"}}
    assert listed == ALL_NAMES
    plain = entries["plain.bin"]
    assert plain["type"] == "file"
    assert plain["size"] == "1000"
    assert plain["modify"].startswith("20220607080910")
    disk_mode = stat.S_IMODE((populated.dir / "plain.bin").stat().st_mode)
    assert int(plain["unix.mode"], 8) == disk_mode
    assert "r" in plain["perm"]
    assert "w" in plain["perm"]
    assert plain["unique"]
    assert entries["sub"]["type"] == "dir"
    assert entries[UTF8_NAME]["size"] == "7"
    uniques = [facts["unique"] for name, facts in entries.items() if name in ALL_NAMES]
    assert len(set(uniques)) == len(uniques)


def test_mlsd_selected_facts(populated: Remote) -> None:
    """OPTS MLST (sent by ftplib for ``facts=``) limits the facts listed."""
    entries = dict(populated.ftp.mlsd(facts=["type", "size"]))
    for name in ALL_NAMES:
        assert set(entries[name]) <= {"type", "size"}, entries[name]
        assert "type" in entries[name]
    assert entries["plain.bin"]["size"] == "1000"


def test_mlst(populated: Remote) -> None:
    reply = populated.ftp.sendcmd("MLST plain.bin")
    lines = reply.splitlines()
    assert lines[0].startswith("250-"), reply
    assert lines[-1].startswith("250 "), reply
    facts_text, _, path = lines[1].strip().partition(" ")
    facts = dict(item.split("=", 1) for item in facts_text.rstrip(";").split(";"))
    assert path == f"/{populated.area}/plain.bin"
    assert facts["type"] == "file"
    assert facts["size"] == "1000"


def test_mlsd_of_a_file_fails(populated: Remote) -> None:
    with pytest.raises(ftplib.error_perm) as error:
        list(populated.ftp.mlsd("plain.bin"))
    assert perm_code(error) == "550"


def test_stat_with_path_lists_over_control(populated: Remote) -> None:
    reply = populated.ftp.sendcmd("STAT .")
    lines = reply.splitlines()
    assert lines[0].startswith("213-"), reply
    assert lines[-1].startswith("213 "), reply
    names = {parse_list_line(line.strip())["name"] for line in lines[1:-1]}
    assert names == ALL_NAMES


# -- session commands --------------------------------------------------------------------


def test_stat_without_path(remote: Remote) -> None:
    reply = remote.ftp.sendcmd("STAT")
    assert reply.startswith("211-"), reply
    assert reply.splitlines()[-1].startswith("211 ")
    assert f"Logged in as {USER}" in reply
    remote.ftp.voidcmd("TYPE A")
    assert "ASCII" in remote.ftp.sendcmd("STAT")


def test_feat(remote: Remote) -> None:
    reply = remote.ftp.sendcmd("FEAT")
    lines = reply.splitlines()
    assert lines[0].startswith("211-") and lines[-1].startswith("211 "), reply
    features = {line.strip().split(" ", 1)[0] for line in lines[1:-1]}
    assert {"EPRT", "EPSV", "MDTM", "MFMT", "MLST", "PASV", "REST", "SIZE", "UTF8"} <= features
    assert all(line.startswith(" ") for line in lines[1:-1]), (
        "RFC 2389: feature lines start with SP"
    )
    assert any(line.strip() == "REST STREAM" for line in lines[1:-1])


def test_syst_noop_and_type(remote: Remote) -> None:
    assert remote.ftp.sendcmd("SYST") == "215 UNIX Type: L8"
    assert remote.ftp.voidcmd("NOOP").startswith("200")
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("TYPE X")
    assert perm_code(error) == "501"
    with pytest.raises(ftplib.error_perm) as error:
        remote.ftp.sendcmd("FROB")
    assert perm_code(error) == "500"


def test_retr_missing_file(remote: Remote) -> None:
    with pytest.raises(ftplib.error_perm) as error:
        remote.retr("missing.bin")
    assert perm_code(error) == "550"
    assert remote.ftp.voidcmd("NOOP").startswith("200")


def test_path_escape_is_contained(remote: Remote) -> None:
    """``..`` above the root stays at the root: the upload lands inside it."""
    remote.stor("../../../../escaped.txt", b"caught")
    assert (remote.server.root / "escaped.txt").read_bytes() == b"caught"
    assert not (remote.server.root.parent / "escaped.txt").exists()
    (remote.server.root / "escaped.txt").unlink()


@pytest.mark.parametrize("name", AWKWARD_NAMES, ids=["utf8", "double-space", "leading", "trailing"])
def test_awkward_names(remote: Remote, name: str) -> None:
    """UTF-8 and spaces anywhere in a name survive every command unchanged."""
    payload = random_bytes(5_000, name)
    remote.stor(name, payload)
    assert (remote.dir / name).read_bytes() == payload
    assert name in remote.ftp.nlst()
    assert remote.retr(name) == payload
    assert remote.ftp.size(name) == 5_000
    assert name in dict(remote.ftp.mlsd())
    lines: list[str] = []
    remote.ftp.dir(lines.append)
    assert [parse_list_line(line)["name"] for line in lines] == [name]

    remote.ftp.rename(name, "x " + name)
    assert (remote.dir / ("x " + name)).read_bytes() == payload
    remote.ftp.mkd(name + " dir")
    remote.ftp.cwd(name + " dir")
    assert remote.ftp.pwd() == f"/{remote.area}/{name} dir"
    remote.ftp.cwd("..")
    remote.ftp.rmd(name + " dir")
    remote.ftp.delete("x " + name)
    assert list(remote.dir.iterdir()) == []


def test_opts_utf8(remote: Remote) -> None:
    assert remote.ftp.sendcmd("OPTS UTF8 ON").startswith("200")


def test_wrong_password(shared_server: ServerProcess) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect(shared_server.host, shared_server.port, timeout=20)
        with pytest.raises(ftplib.error_perm) as error:
            ftp.login(USER, "not " + PASSWORD)
        assert perm_code(error) == "530"
        with pytest.raises(ftplib.error_perm) as error:
            ftp.nlst()
        assert perm_code(error) == "530"
        ftp.login(USER, PASSWORD)
        assert ftp.pwd() == "/"


# -- IPv6: EPSV and EPRT -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ipv6_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server listening on ::1 only (module-scoped: one start for every IPv6 test)."""
    if not ipv6_loopback_available():
        pytest.skip("IPv6 loopback ::1 is not available")
    server = start_server(tmp_path_factory.mktemp("ipv6"), "-v", host="::1")
    yield server
    server.stop()


@pytest.mark.parametrize("passive", [True, False], ids=["EPSV", "EPRT"])
def test_ipv6_round_trip(ipv6_server: ServerProcess, passive: bool) -> None:
    verb = "EPSV" if passive else "EPRT"
    name = f"v6-{verb}.bin"
    payload = random_bytes(2 * MIB, name)
    ftp = ftp_login(ipv6_server, passive=passive)
    try:
        assert ftp.af == socket.AF_INET6
        ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
        assert name in ftp.nlst()
        sink = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", sink.write)
        entries = dict(ftp.mlsd())
        ftp.quit()
    finally:
        ftp.close()
    assert sink.getvalue() == payload
    assert (ipv6_server.root / name).read_bytes() == payload
    assert entries[name]["size"] == str(len(payload))
    log = ipv6_server.log()
    assert re.search(rf"<- {verb}\b", log), log_tail(ipv6_server)
    stored = rf"STOR /{re.escape(name)} {len(payload)} bytes in \S+ via {verb} "
    assert re.search(stored, log), log_tail(ipv6_server)


def test_ipv6_refuses_ipv4_only_commands(ipv6_server: ServerProcess) -> None:
    """PASV and PORT cannot describe an IPv6 address: 522 (RFC 2428), session goes on."""
    ftp = ftp_login(ipv6_server)
    try:
        with pytest.raises(ftplib.error_perm) as error:
            ftp.sendcmd("PASV")
        assert perm_code(error) == "522"
        with pytest.raises(ftplib.error_perm) as error:
            ftp.sendcmd("PORT 127,0,0,1,200,10")
        assert perm_code(error) == "522"
        with pytest.raises(ftplib.error_perm) as error:
            ftp.sendcmd("EPSV 1")
        assert perm_code(error) == "522"
        assert ftp.sendcmd("EPSV 2").startswith("229")
        ftp.quit()
    finally:
        ftp.close()
