"""A hostile client against a real server process.

Every test sends something an attacker (or a badly broken client) would,
checks the exact reply, and then checks three things that must hold
whatever was sent (:meth:`Site.assert_intact`):

* the server process is alive and serves a fresh client (log in, list);
* nothing outside the root changed: a sentinel file, a twin ``etc/passwd``
  and a secret directory live next to the root, and their names, sizes,
  contents and times are compared with a snapshot taken before the test;
* nothing outside the root was read or listed: a random token, which is the
  sentinel's content and part of file names next to the root and in the
  secret directory, never appears in any byte any client of the test
  received, on the control or the data connection.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, start_server

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
INSIDE_PASSWD = b"inside-root passwd: harmless\n"
SENTINEL_NAME = "outside-sentinel.txt"


# -- the guarded site -----------------------------------------------------------------------


class Client(RawClient):
    """A raw client that records every byte it receives into ``seen``."""

    def __init__(self, host: str, port: int, seen: bytearray, timeout: float = TIMEOUT) -> None:
        self.seen = seen
        super().__init__(host, port, timeout)

    def read_line(self) -> bytes:
        line = super().read_line()
        self.seen += line + b"\n"
        return line

    def raw_reply(self) -> list[bytes]:
        """One reply as its raw lines (without CRLF), so tests can inspect each byte."""
        first = self.read_line()
        lines = [first]
        if first[3:4] == b"-":
            while True:
                line = self.read_line()
                lines.append(line)
                if line[:3] == first[:3] and line[3:4] == b" ":
                    break
        return lines


def snapshot(tmp: Path) -> dict[str, tuple[int, int, bytes]]:
    """Everything next to the root (the root and the server logs excepted)."""
    result: dict[str, tuple[int, int, bytes]] = {}
    for path in sorted(tmp.rglob("*")):
        relative = path.relative_to(tmp)
        if relative.parts[0] == "root" or relative.name.startswith("server-"):
            continue
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        result[str(relative)] = (info.st_mode, info.st_mtime_ns, content)
    return result


@dataclass
class Site:
    """A server whose root has neighbours that must never be touched."""

    server: ServerProcess
    tmp: Path
    token: bytes
    before: dict[str, tuple[int, int, bytes]]
    seen: bytearray = field(default_factory=bytearray)

    @property
    def root(self) -> Path:
        return self.server.root

    @property
    def sentinel(self) -> Path:
        return self.tmp / SENTINEL_NAME

    def client(self, timeout: float = TIMEOUT) -> Client:
        return Client(self.server.host, self.server.port, self.seen, timeout)

    def logged_in(self) -> Client:
        client = self.client()
        client.login()
        return client

    def recv_all(self, sock: socket.socket) -> bytes:
        data = recv_all(sock)
        self.seen += data
        return data

    def download(self, client: Client, command: str) -> tuple[int, bytes]:
        """A transfer into the client over PASV: (final code, data)."""
        data_sock = open_pasv(client)
        with data_sock:
            code, _ = client.command(command)
            if code != 150:
                return code, b""
            payload = self.recv_all(data_sock)
        return client.read_reply()[0], payload

    def upload(self, client: Client, command: str, payload: bytes) -> int:
        """A transfer from the client over PASV: the final code."""
        data_sock = open_pasv(client)
        with data_sock:
            code, _ = client.command(command)
            if code != 150:
                return code
            data_sock.sendall(payload)
        return client.read_reply()[0]

    def assert_intact(self) -> None:
        """Alive, serving a fresh client, nothing outside the root read or changed."""
        assert self.server.alive(), f"server died:\n{self.server.log()[-3000:]}"
        with self.logged_in() as client:
            code, listing = self.download(client, "LIST /")
            assert code == 226, f"LIST / after the attack: {code}"
            assert b"etc" in listing, listing
            # A listing of the parent would show name-<token>: caught by the token check.
            code, passwd = self.download(client, "RETR /etc/passwd")
            assert (code, passwd) == (226, INSIDE_PASSWD)
            assert client.command("QUIT")[0] == 221
        assert snapshot(self.tmp) == self.before, "something outside the root changed"
        assert self.token not in self.seen, "bytes from outside the root reached a client"
        assert "Traceback" not in self.server.log(), self.server.log()[-3000:]


def make_site(tmp_path: Path, *extra: str) -> Site:
    token = b"TOKEN-" + secrets.token_hex(16).encode()
    (tmp_path / SENTINEL_NAME).write_bytes(token + b"\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_bytes(b"outside passwd " + token + b"\n")
    (tmp_path / "secret-outside").mkdir()
    (tmp_path / "secret-outside" / f"secret-{token.decode()}.txt").write_bytes(token)
    (tmp_path / f"name-{token.decode()}").write_bytes(b"listing the parent shows this name")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_bytes(INSIDE_PASSWD)
    (root / "pub").mkdir()
    (root / "pub" / "readme.txt").write_bytes(b"readme\n")
    before = snapshot(tmp_path)
    server = start_server(tmp_path, "-v", *extra)
    return Site(server, tmp_path, token, before)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    guarded = make_site(tmp_path)
    try:
        yield guarded
    finally:
        guarded.server.stop()


# -- data-channel helpers -------------------------------------------------------------------


def parse_227(text: str) -> tuple[str, int]:
    match = re.search(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})", text)
    assert match is not None, f"no address in 227 reply {text!r}"
    numbers = [int(group) for group in match.groups()]
    return ".".join(str(n) for n in numbers[:4]), numbers[4] * 256 + numbers[5]


def open_pasv(client: RawClient) -> socket.socket:
    code, text = client.command("PASV")
    assert code == 227, text
    return socket.create_connection(parse_227(text), timeout=TIMEOUT)


def recv_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def loopback_alias_available() -> bool:
    """True when 127.0.0.2 can be bound (always on Linux)."""
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return False
    return True


needs_alias = pytest.mark.skipif(not loopback_alias_available(), reason="127.0.0.2 not bindable")


# -- before login ---------------------------------------------------------------------------

NEEDS_LOGIN = (
    "ABOR",
    "ALLO 100",
    "APPE x.txt",
    "CDUP",
    "CWD /etc",
    "DELE etc/passwd",
    "EPRT |1|127.0.0.1|50000|",
    "EPSV",
    "EPSV ALL",
    "LIST",
    "MDTM etc/passwd",
    "MFMT 20000101000000 etc/passwd",
    "MKD newdir",
    "MLSD",
    "MLST etc/passwd",
    "MODE S",
    "NLST",
    "PASV",
    "PORT 127,0,0,1,195,80",
    "PWD",
    "REST 10",
    "RETR etc/passwd",
    "RMD etc",
    "RNFR etc/passwd",
    "RNTO moved",
    "SITE CHMOD 777 etc/passwd",
    "SITE HELP",
    "SIZE etc/passwd",
    "STAT",
    "STAT /",
    "STOR x.txt",
    "STOU",
    "STRU F",
    "TYPE I",
    "XCUP",
    "XCWD /etc",
    "XMKD newdir",
    "XPWD",
    "XRMD etc",
)


def test_every_command_before_login_is_530(site: Site) -> None:
    before = sorted(str(path) for path in site.root.rglob("*"))
    with site.client() as client:
        wrong = {}
        for line in NEEDS_LOGIN:
            code, text = client.command(line)
            if code != 530:
                wrong[line] = f"{code} {text}"
        assert wrong == {}, f"commands answered without login: {wrong}"
        # The few that work before login.
        assert client.command("PASS nothing")[0] == 503
        assert client.command("FEAT")[0] == 211
        assert client.command("SYST")[0] == 215
        assert client.command("HELP")[0] == 214
        assert client.command("NOOP")[0] == 200
        assert client.command("OPTS UTF8 ON")[0] == 200
        assert client.command("REIN")[0] == 220
        assert client.command("USER nobody")[0] == 331
        assert client.command("PWD")[0] == 530
        assert client.command("QUIT")[0] == 221
    assert sorted(str(path) for path in site.root.rglob("*")) == before
    site.assert_intact()


# -- path traversal -------------------------------------------------------------------------

# Prefixes that would climb out of the root if the server trusted them; every
# one must resolve inside the root, so "<prefix>etc/passwd" is the root's own
# etc/passwd and "<prefix>outside-sentinel.txt" does not exist.
CLIMBING = {
    "dotdot": "../",
    "dotdot2": "../../",
    "dotdot9": "../" * 9,
    "abs-dotdot": "/../../",
    "backslash": "..\\..\\",
    "mixed": "..\\../",
    "dot-dotdot": "./../",
    "into-and-out": "pub/../../",
    "abs": "/",
    "double-slash": "//..//..//",
}
# Spellings that look like traversal but name a directory that does not exist.
LITERAL = {
    "percent-encoded": "%2e%2e/",
    "percent-encoded-upper": "%2E%2E/",
    "four-dots": "....//",
    "dot-dot-space": ".. /",
    "triple-dot": ".../",
}


def _join(prefix: str, rest: str) -> str:
    return prefix + (rest.replace("/", "\\") if "\\" in prefix else rest)


@pytest.mark.parametrize("prefix", list(CLIMBING.values()), ids=list(CLIMBING))
def test_traversal_resolves_inside_root(site: Site, prefix: str) -> None:
    root, outside = site.root, site.tmp
    with site.logged_in() as client:
        assert site.download(client, f"RETR {_join(prefix, 'etc/passwd')}") == (226, INSIDE_PASSWD)
        assert client.command(f"SIZE {_join(prefix, 'etc/passwd')}") == (
            213,
            str(len(INSIDE_PASSWD)),
        )
        assert site.download(client, f"RETR {prefix}{SENTINEL_NAME}")[0] == 550
        assert client.command(f"SIZE {prefix}{SENTINEL_NAME}")[0] == 550
        assert client.command(f"MDTM {prefix}{SENTINEL_NAME}")[0] == 550
        assert client.command(f"DELE {prefix}{SENTINEL_NAME}")[0] == 550
        assert client.command(f"CWD {prefix}secret-outside")[0] == 550
        assert site.download(client, f"LIST {_join(prefix, 'secret-outside')}")[0] == 550

        code, listing = site.download(client, f"LIST {prefix}")
        assert code == 226
        assert b"pub" in listing
        assert SENTINEL_NAME.encode() not in listing
        code, listing = site.download(client, f"LIST -la {prefix}")
        assert code == 226
        assert b"pub" in listing
        code, names = site.download(client, f"NLST {prefix}*")
        assert code == 226
        assert b"pub" in names
        code, names = site.download(client, f"NLST {prefix}")
        assert code == 226
        assert SENTINEL_NAME.encode() not in names

        code, text = client.command(f"CWD {_join(prefix, 'etc')}")
        assert code == 250, text
        assert client.command("PWD")[1].startswith('"/etc"')
        assert client.command(f"CWD {prefix}")[0] == 250
        assert client.command("PWD")[1].startswith('"/"')

        # Writes land inside the root, under the clamped name.
        assert site.upload(client, f"STOR {prefix}{SENTINEL_NAME}", b"written inside") == 226
        assert (root / SENTINEL_NAME).read_bytes() == b"written inside"
        assert client.command(f"DELE {prefix}{SENTINEL_NAME}")[0] == 250
        assert not (root / SENTINEL_NAME).exists()

        code, text = client.command(f"MKD {prefix}newdir")
        assert code == 257, text
        assert text.startswith('"/newdir"'), text
        assert (root / "newdir").is_dir()
        assert not (outside / "newdir").exists()
        assert client.command(f"RMD {prefix}newdir")[0] == 250

        assert client.command("RNFR pub/readme.txt")[0] == 350
        assert client.command(f"RNTO {prefix}moved.txt")[0] == 250
        assert (root / "moved.txt").read_bytes() == b"readme\n"
        assert not (outside / "moved.txt").exists()
        assert client.command("RNFR moved.txt")[0] == 350
        assert client.command("RNTO pub/readme.txt")[0] == 250
    site.assert_intact()


@pytest.mark.parametrize("prefix", list(LITERAL.values()), ids=list(LITERAL))
def test_traversal_lookalikes_are_literal_names(site: Site, prefix: str) -> None:
    before = sorted(site.root.rglob("*"))
    with site.logged_in() as client:
        assert site.download(client, f"RETR {prefix}etc/passwd")[0] == 550
        assert site.download(client, f"RETR {prefix}{SENTINEL_NAME}")[0] == 550
        assert client.command(f"SIZE {prefix}etc/passwd")[0] == 550
        assert client.command(f"CWD {prefix}etc")[0] == 550
        assert site.download(client, f"LIST {prefix}etc")[0] == 550
        assert client.command(f"DELE {prefix}{SENTINEL_NAME}")[0] == 550
        assert site.upload(client, f"STOR {prefix}{SENTINEL_NAME}", b"no") == 550
        assert client.command(f"MKD {prefix}newdir")[0] == 550
        assert client.command("RNFR pub/readme.txt")[0] == 350
        assert client.command(f"RNTO {prefix}moved.txt")[0] == 550
    assert sorted(site.root.rglob("*")) == before
    site.assert_intact()


def test_encoded_slash_is_part_of_a_file_name(site: Site) -> None:
    with site.logged_in() as client:
        assert site.download(client, "RETR ..%2fetc%2fpasswd")[0] == 550
        assert site.download(client, "RETR ..%2f..%2foutside-sentinel.txt")[0] == 550
        assert site.upload(client, "STOR ..%2fliteral.txt", b"literal") == 226
        code, text = client.command("MKD %2e%2e")
        assert code == 257, text
    assert (site.root / "..%2fliteral.txt").read_bytes() == b"literal"
    assert (site.root / "%2e%2e").is_dir()
    site.assert_intact()


# -- symlinks that leave the root -----------------------------------------------------------


def test_symlink_out_of_root_is_refused(site: Site) -> None:
    root, outside = site.root, site.tmp
    os.symlink(outside, root / "escape")  # a directory link to the root's parent
    os.symlink(site.sentinel, root / "leak.txt")  # a file link to the sentinel
    os.symlink(outside / "secret-outside", root / "pub" / "deep")  # one level down
    os.symlink(outside / "created-by-ftp.txt", root / "dangle")  # not there yet
    with site.logged_in() as client:
        wrong: dict[str, int] = {}

        def expect(line: str, code: int) -> None:
            if code != 550:
                wrong[line] = code

        for line in (
            "CWD escape",
            "CWD escape/secret-outside",
            "XCWD pub/deep",
            f"SIZE escape/{SENTINEL_NAME}",
            f"MDTM escape/{SENTINEL_NAME}",
            f"MLST escape/{SENTINEL_NAME}",
            "MLST escape",
            "STAT escape",
            "STAT escape/secret-outside",
            "SIZE leak.txt",
            "MLST leak.txt",
            "MKD escape/newdir",
            "MKD pub/deep/newdir",
            f"DELE escape/{SENTINEL_NAME}",
            "RMD escape/secret-outside",
            f"RNFR escape/{SENTINEL_NAME}",
            "SITE CHMOD 777 leak.txt",
            "SITE CHMOD 777 escape",
            "MFMT 20000101000000 leak.txt",
            "RNFR leak.txt",
            "MKD dangle",
        ):
            expect(line, client.command(line)[0])
        for line in (
            f"RETR escape/{SENTINEL_NAME}",
            "RETR leak.txt",
            "RETR escape/etc/passwd",
            "LIST escape",
            "LIST escape/",
            "LIST escape/secret-outside",
            "LIST pub/deep",
            "NLST escape",
            "NLST pub/deep",
            "MLSD escape",
            "MLSD pub/deep",
            "LIST escape/*",
            "NLST escape/*.txt",
            "LIST -la escape",
            "RETR dangle",
        ):
            expect(line, site.download(client, line)[0])
        for line in (
            f"STOR escape/{SENTINEL_NAME}",
            "STOR escape/new.txt",
            "STOR leak.txt",
            "APPE leak.txt",
            "STOR pub/deep/new.txt",
            "STOR dangle",
            "APPE dangle",
        ):
            expect(line, site.upload(client, line, b"overwritten"))
        assert client.command("RNFR pub/readme.txt")[0] == 350
        expect("RNTO escape/moved.txt", client.command("RNTO escape/moved.txt")[0])
        # STOU takes only a name prefix from its argument and creates in the cwd.
        assert client.command("CWD pub")[0] == 250
        assert site.upload(client, "STOU deep/x", b"unique") in {226, 550}
        assert wrong == {}, f"followed a symlink out of the root: {wrong}"
        # The links themselves are visible, but never what lies behind them.
        code, listing = site.download(client, "LIST /")
        assert code == 226
        assert b"escape" in listing
        # MLSD calls them links, not files a RETR would then refuse, and says
        # nothing of their targets.
        code, machine = site.download(client, "MLSD /")
        assert code == 226
        facts = dict(reversed(line.split("; ", 1)) for line in machine.decode().splitlines())
        for name in ("escape", "leak.txt", "dangle"):
            assert re.search(r"(^|;)type=OS\.unix=slink;", facts[name]), facts[name]
        assert str(outside).encode() not in machine
    assert not (outside / "new.txt").exists()
    assert not (outside / "moved.txt").exists()
    assert not (outside / "created-by-ftp.txt").exists()
    assert (root / "pub" / "readme.txt").exists()
    site.assert_intact()


# -- the root itself and permission bits ----------------------------------------------------


def test_root_cannot_be_removed_renamed_or_replaced(site: Site) -> None:
    with site.logged_in() as client:
        for line in ("RMD /", "XRMD /", "DELE /", "MKD /", "RMD ..", "DELE ../..", "RMD \\"):
            code, text = client.command(line)
            assert code == 550, f"{line} -> {code} {text}"
        for source, target in (("/", "moved"), ("pub", "/"), ("pub", ".."), ("pub", "pub/sub")):
            code, _ = client.command(f"RNFR {source}")
            if code == 350:
                code, text = client.command(f"RNTO {target}")
            assert code == 550, f"RNFR {source} / RNTO {target} -> {code}"
        assert site.upload(client, "STOR /", b"x") == 550
        assert site.upload(client, "STOR ../..", b"x") == 550
    assert site.root.is_dir()
    assert (site.root / "pub" / "readme.txt").is_file()
    site.assert_intact()


def test_site_chmod_cannot_set_setuid_or_setgid(site: Site) -> None:
    target = site.root / "pub" / "readme.txt"
    with site.logged_in() as client:
        for mode in ("10755", "9", "-1", "0x1ff", "+x", "\u0667\u0665\u0665"):
            code, text = client.command(f"SITE CHMOD {mode} pub/readme.txt")
            assert code == 501, f"SITE CHMOD {mode!r} -> {code} {text}"
        for mode in ("4755", "2755", "6777", "7777"):
            code, text = client.command(f"SITE CHMOD {mode} pub/readme.txt")
            assert code in {200, 501, 550}, text
            bits = stat.S_IMODE(target.stat().st_mode)
            target.chmod(0o644)
            assert not bits & (stat.S_ISUID | stat.S_ISGID), (
                f"SITE CHMOD {mode} -> {code}, and the file became {oct(bits)}"
            )
    site.assert_intact()


def test_site_chmod_cannot_change_the_root(site: Site) -> None:
    before = stat.S_IMODE(site.root.stat().st_mode)
    with site.logged_in() as client:
        for line in (
            "SITE CHMOD 000 /",
            "SITE CHMOD 777 /",
            "SITE CHMOD 000 ..",
            "SITE CHMOD 0 ../..",
        ):
            code, text = client.command(line)
            after = stat.S_IMODE(site.root.stat().st_mode)
            site.root.chmod(before)
            assert code == 550 and after == before, (
                f"{line} -> {code} {text}; the root's mode became {oct(after)}"
            )
    site.assert_intact()


# -- special files inside the root ----------------------------------------------------------


def _unblock_fifo(path: Path) -> None:
    """Open and close the FIFO both ways, releasing anyone blocked opening it."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    os.close(fd)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
@pytest.mark.parametrize("verb", ["RETR", "STOR", "APPE"])
def test_fifo_in_root_does_not_block_the_server(site: Site, verb: str) -> None:
    # A local user can leave a named pipe in the served tree; opening one
    # blocks until the other end opens, which must never stall the server.
    fifo = site.root / "pub" / "pipe"
    os.mkfifo(fifo)
    with site.logged_in() as client, site.logged_in() as other:
        data_sock = open_pasv(client)
        client.send_raw(f"{verb} pub/pipe\r\n".encode())
        other.sock.settimeout(3)
        try:
            other_code = other.command("NOOP")[0]
        except TimeoutError:
            other_code = 0
        finally:
            if other_code != 200:
                _unblock_fifo(fifo)
        client.sock.settimeout(3)
        try:
            code = client.read_reply()[0]
        except TimeoutError:
            code = 0
            _unblock_fifo(fifo)
        data_sock.close()
        assert other_code == 200, f"{verb} of a FIFO stalled every session (NOOP unanswered)"
        assert code in {550, 553}, f"{verb} of a FIFO -> {code or 'no reply within 3 s'}"
        other.sock.settimeout(TIMEOUT)
        assert other.command("SIZE pub/pipe")[0] == 550
    assert fifo.exists()
    site.assert_intact()


# -- bad bytes in paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "verb", ["RETR", "STOR", "APPE", "CWD", "MKD", "RMD", "DELE", "SIZE", "MDTM", "RNFR", "LIST"]
)
def test_nul_byte_in_path_501(site: Site, verb: str) -> None:
    with site.logged_in() as client:
        data_sock = open_pasv(client) if verb in {"RETR", "STOR", "APPE", "LIST"} else None
        client.send_raw(verb.encode() + b" etc\x00/passwd\r\n")
        code, text = client.read_reply()
        if data_sock is not None:
            data_sock.close()
        assert code == 501, text
        assert client.command("NOOP")[0] == 200
    assert sorted(path.name for path in site.root.iterdir()) == ["etc", "pub"]
    assert (site.root / "etc" / "passwd").read_bytes() == INSIDE_PASSWD
    site.assert_intact()


@pytest.mark.parametrize(
    "line",
    [
        b"RETR \xff\xfe\r\n",  # IAC DONT: Telnet eats it, leaving an empty argument
        b"RETR \xc3\x28\r\n",
        b"RETR \xc3\x28\xa0\xa1.txt\r\n",
        b"STOR \xc3\x28\r\n",
        b"MKD \xc3\x28\r\n",
        b"CWD \xc3\x28\r\n",
        b"DELE \xed\xa0\x80\r\n",  # an encoded surrogate
        b"RNFR \x80\r\n",
        b"LIST \xfe\r\n",
        b"SIZE \xc0\xaf\r\n",  # overlong "/"
    ],
)
def test_invalid_utf8_in_path_is_an_error_reply(site: Site, line: bytes) -> None:
    with site.logged_in() as client:
        client.send_raw(line)
        code, text = client.read_reply()
        assert 400 <= code < 600, f"{line!r} -> {code} {text}"
        assert code != 451, f"{line!r} hit an internal error: {text}"
        assert client.command("NOOP")[0] == 200
    assert sorted(path.name for path in site.root.iterdir()) == ["etc", "pub"]
    site.assert_intact()


def test_invalid_utf8_user_name(site: Site) -> None:
    with site.client() as client:
        client.send_raw(b"USER \xc3\x28\xff\xff\r\n")
        assert client.read_reply()[0] == 331
        assert client.command("PASS x")[0] == 530
        client.login()
    site.assert_intact()


# -- FTP bounce and malformed data-channel arguments -------------------------------------------


def _port_argument(host: str, port: int) -> str:
    return ",".join(host.split(".")) + f",{port >> 8},{port & 0xFF}"


@needs_alias
def test_bounce_to_third_address_refused(site: Site) -> None:
    with socket.socket() as victim:
        victim.bind(("127.0.0.2", 0))
        victim.listen(1)
        victim.settimeout(1.0)
        victim_port = victim.getsockname()[1]
        with site.logged_in() as client:
            for line in (
                f"PORT {_port_argument('127.0.0.2', victim_port)}",
                f"EPRT |1|127.0.0.2|{victim_port}|",
                f"EPRT |2|::ffff:127.0.0.2|{victim_port}|",
                f"PORT {_port_argument('10.0.0.1', 5000)}",
                f"PORT {_port_argument('0.0.0.0', victim_port)}",
                f"PORT {_port_argument('255.255.255.255', 5000)}",
                "EPRT |1|192.0.2.1|5000|",
            ):
                code, text = client.command(line)
                expected = {501, 522} if "::ffff:" in line else {501}
                if "PORT 0,0,0,0," in line:
                    expected = {200, 501}  # 0.0.0.0 may mean "the control peer" (127.0.0.1)
                assert code in expected, f"{line} -> {code} {text}"
                # The refused target must not be used by the next transfer.
                code, text = client.command("RETR etc/passwd")
                assert code == 425, f"after {line}: RETR -> {code} {text}"
            with pytest.raises(TimeoutError):
                victim.accept()
            assert client.command("NOOP")[0] == 200
    site.assert_intact()


@pytest.mark.parametrize("port", [25, 21, 22, 80, 1, 1023])
def test_bounce_to_privileged_port_refused(site: Site, port: int) -> None:
    with site.logged_in() as client:
        code, text = client.command(f"PORT {_port_argument('127.0.0.1', port)}")
        assert code == 501, text
        code, text = client.command(f"EPRT |1|127.0.0.1|{port}|")
        assert code == 501, text
        assert client.command("RETR etc/passwd")[0] == 425
        assert client.command("NOOP")[0] == 200
    site.assert_intact()


MALFORMED_PORT = [
    "1,2,3,4,5",
    "127,0,0,1,256,1",
    "127,0,0,1,1,256",
    "256,0,0,1,200,1",
    "127,0,0,1,-1,1",
    "127,0,0,-1,200,1",
    "a,b,c,d,e,f",
    "127,0,0,1,200,x",
    "1,2,3,4,5,6,7",
    "127,0,0,1,200,",
    ",,,,,",
    "127.0.0.1,200,1",
    "127,0,0,1,200,1000000000000000000000",
    "127,0,0,1,0x10,1",
    "127,0,0,1,+2,1",
    "127,0,0,1,\u0662,1",  # an Arabic-Indic digit: isdigit() but not ASCII
    "",
]


@pytest.mark.parametrize("argument", MALFORMED_PORT)
def test_malformed_port_501(site: Site, argument: str) -> None:
    with site.logged_in() as client:
        code, text = client.command(f"PORT {argument}".rstrip())
        assert code == 501, text
        assert client.command("NOOP")[0] == 200
    site.assert_intact()


MALFORMED_EPRT = [
    "|1|not-an-ip|5000|",
    "|1|127.0.0.1|0|",
    "|1|127.0.0.1|70000|",
    "|1|127.0.0.1|-1|",
    "|1|127.0.0.1|abc|",
    "|1|127.0.0.1|5000",
    "1|127.0.0.1|5000|",
    "|1|127.0.0.1|",
    "|1|127.0.0.1|5000|extra|",
    "127.0.0.1 5000",
    "|1|::1|5000|",
    "|1|127.0.0.1.5|5000|",
    "|1||5000|",
    "||127.0.0.1|5000|",
    "1112700115000" + "1",  # a digit as the delimiter
    "|1|127.0.0.1|\u0665\u0660\u0660\u0660|",  # non-ASCII digits
    "",
]


@pytest.mark.parametrize("argument", MALFORMED_EPRT)
def test_malformed_eprt_501(site: Site, argument: str) -> None:
    with site.logged_in() as client:
        code, text = client.command(f"EPRT {argument}".rstrip())
        assert code in {501, 522} if argument.startswith("||") else code == 501, text
        assert client.command("NOOP")[0] == 200
    site.assert_intact()


# -- long lines -------------------------------------------------------------------------------


def test_5000_byte_line_500_then_next_command_works(site: Site) -> None:
    with site.client() as client:
        client.send_raw(b"NOOP " + b"x" * 4995 + b"\r\n")
        code, text = client.read_reply()
        assert code == 500, text
        assert client.command("NOOP")[0] == 200
        client.send_raw(b"USER " + b"y" * 6000 + b"\r\nNOOP\r\n")
        assert client.read_reply()[0] == 500
        assert client.read_reply()[0] == 200
        client.login()
    site.assert_intact()


def test_70kb_without_line_end_421_and_close(site: Site) -> None:
    with site.client() as client:
        client.send_raw(b"A" * (70 * 1024))
        codes: list[int] = []
        while 421 not in codes:
            codes.append(client.read_reply()[0])
        assert all(code in {500, 421} for code in codes), codes
        assert client.sock.recv(100) == b"", "the connection must close after 421"
    site.assert_intact()


# -- reply forging ---------------------------------------------------------------------------


def _assert_clean(lines: list[bytes], allowed: set[int], sent: bytes) -> None:
    assert int(lines[0][:3]) in allowed, f"{sent!r} -> {lines!r}"
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, f"bare CR/LF in reply to {sent!r}: {lines}"
    for middle in lines[1:-1]:
        assert not re.match(rb"\d{3}[ -]", middle), f"forged-looking line in {lines!r}"
    if len(lines) > 1:
        assert lines[-1][:4] == lines[0][:3] + b" ", lines


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"MKD a\rb\r\n", [{257}]),
        (b"MKD q\r226 forged\r\n", [{257}]),
        (b"CWD x\n230 fake\r\n", [{550}, {500}]),
        (b"CWD x\r\n230 fake\r\n", [{550}, {500}]),
        (b"USER x\r230 Logged in\r\n", [{331}]),
        (b"USER x\n230 Logged in\r\n", [{331}, {500}]),
        (b"RETR x\r\r\n", [{425, 550}]),
        (b"SIZE \r213 0\r\n", [{550}]),
        (b"NOOP\r200 forged\r\n", [{500}]),
        (b"MKD evil\x00\r226 ok\r\n", [{501}]),
    ],
)
def test_cr_lf_injection_cannot_forge_replies(
    site: Site, payload: bytes, expected: list[set[int]]
) -> None:
    with site.client() as client:
        if not payload.startswith(b"USER"):
            client.login()
        client.send_raw(payload)
        for allowed in expected:
            _assert_clean(client.raw_reply(), allowed, payload)
        # Names with CR in them, echoed in multi-line replies, stay clean too.
        if payload.startswith(b"MKD"):
            client.send_raw(b"STAT /\r\n")
            _assert_clean(client.raw_reply(), {213}, b"STAT /")
            client.send_raw(b"MLST /" + payload[4:-2] + b"\r\n")
            _assert_clean(client.raw_reply(), {250, 501}, b"MLST")
            client.send_raw(b"CWD " + payload[4:-2] + b"\r\nPWD\r\n")
            _assert_clean(client.raw_reply(), {250, 501}, b"CWD")
            _assert_clean(client.raw_reply(), {257}, b"PWD")
        assert client.command("NOOP")[0] == 200
    for path in site.root.rglob("*"):
        assert path.resolve().is_relative_to(site.root.resolve())
    site.assert_intact()


def test_file_names_with_line_ends_on_disk_stay_inside_one_reply(site: Site) -> None:
    # Names a client cannot send, but a local user (or another protocol) can create.
    for name in ("x\r\n230 forged", "y\n226 forged", "z\r550 forged"):
        (site.root / "pub" / name).write_bytes(b"x")
    (site.root / "pub" / "d\r\n257 forged").mkdir()
    with site.logged_in() as client:
        client.send_raw(b"STAT /pub\r\n")
        lines = client.raw_reply()
        _assert_clean(lines, {213}, b"STAT /pub")
        assert len(lines) >= 6, lines
        client.send_raw(b"STAT\r\n")
        _assert_clean(client.raw_reply(), {211}, b"STAT")
        assert client.command("NOOP")[0] == 200
    site.assert_intact()


def test_overlong_names_are_refused_cleanly(site: Site) -> None:
    long_name = "n" * 300
    deep = "/".join(["d"] * 1500)
    with site.logged_in() as client:
        for line in (
            f"MKD {long_name}",
            f"CWD {long_name}",
            f"SIZE {long_name}",
            f"DELE {long_name}",
            f"CWD {deep}",
            f"MKD {deep}",
            f"MLST {deep}",
        ):
            code, text = client.command(line)
            assert code in {550, 553}, f"{line[:20]}... -> {code} {text}"
        assert site.upload(client, f"STOR {long_name}", b"x") in {550, 553}
        assert site.download(client, f"RETR {long_name}")[0] in {550, 553}
        assert client.command("NOOP")[0] == 200
    site.assert_intact()


# -- hostile user names and pipelining ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["%s%n%x" * 100, "A" * 3000, "%n" * 2000, "{0}{1}{__class__}", "${jndi:ldap://x/a}", "'\"--;"],
    ids=["format-100", "long-3000", "percent-n", "str-format", "jndi", "sql"],
)
def test_hostile_user_names(site: Site, name: str) -> None:
    with site.client() as client:
        code, text = client.command(f"USER {name}")
        assert code == 331, text
        code, text = client.command(f"PASS {name}")
        assert code == 530, text
        client.login()
    assert site.server.alive()
    site.assert_intact()


def test_pipelined_commands_answered_in_order(site: Site) -> None:
    with site.client() as client:
        client.send_raw(f"USER {USER}\r\nPASS {PASSWORD}\r\nPWD\r\nNOOP\r\n".encode())
        codes = [client.read_reply()[0] for _ in range(4)]
        assert codes == [331, 230, 257, 200]
        # A bigger burst, more than the server queues before it pauses reading.
        client.send_raw(b"".join(b"NOOP\r\n" if i % 2 else b"PWD\r\n" for i in range(200)))
        codes = [client.read_reply()[0] for _ in range(200)]
        assert codes == [200 if i % 2 else 257 for i in range(200)]
        # Commands pipelined behind a transfer are answered after its 226.
        data_sock = open_pasv(client)
        with data_sock:
            client.send_raw(b"RETR etc/passwd\r\nPWD\r\nNOOP\r\n")
            assert client.read_reply()[0] == 150
            assert site.recv_all(data_sock) == INSIDE_PASSWD
        assert [client.read_reply()[0] for _ in range(3)] == [226, 257, 200]
        client.send_raw(b"SYST\r\nQUIT\r\nNOOP\r\n")
        assert client.read_reply()[0] == 215
        assert client.read_reply()[0] == 221
        client.sock.settimeout(5)
        rest = b""
        while chunk := client.sock.recv(4096):
            rest += chunk
        assert rest == b"", f"commands after QUIT were answered: {rest!r}"
    site.assert_intact()


# -- absurd offsets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    ["9999999999999999999", "9223372036854775807"],
    ids=["over-2**63", "2**63-1"],
)
@pytest.mark.parametrize("verb", ["RETR", "STOR", "APPE"])
def test_absurd_rest_offset(site: Site, verb: str, offset: str) -> None:
    """REST takes up to 19 digits; an offset no file can have must not be a 451."""
    with site.logged_in() as client:
        code, text = client.command(f"REST {offset}")
        assert code in {350, 501}, text
        if code == 350:
            target = "etc/passwd" if verb == "RETR" else "huge.bin"
            if verb == "RETR":
                code, data = site.download(client, f"RETR {target}")
                assert data == b""
            else:
                code = site.upload(client, f"{verb} {target}", b"tail")
            assert code != 451, f"REST {offset} + {verb}: internal error"
            assert code in {226, 426, 501, 550, 551, 552, 554}, code
        assert client.command("NOOP")[0] == 200
        assert client.command("REST 0")[0] == 350
    huge = site.root / "huge.bin"
    assert not huge.exists() or huge.stat().st_blocks < 1024
    site.assert_intact()


def test_half_close_answers_what_was_sent(site: Site) -> None:
    with site.client() as client:
        client.send_raw(f"USER {USER}\r\nPASS {PASSWORD}\r\nPWD\r\n".encode())
        client.sock.shutdown(socket.SHUT_WR)
        assert [client.read_reply()[0] for _ in range(3)] == [331, 230, 257]
        client.sock.settimeout(5)
        rest = b""
        while chunk := client.sock.recv(4096):
            rest += chunk
        assert rest in {b"", b"221 Goodbye.\r\n"} or rest.startswith(b"221"), rest
    site.assert_intact()


# -- resources --------------------------------------------------------------------------------


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_many_pasv_do_not_leak_descriptors(site: Site) -> None:
    pid = site.server.process.pid
    with site.logged_in() as client:
        assert client.command("NOOP")[0] == 200
        before = _open_fds(pid)
        for _ in range(500):
            code, text = client.command("PASV")
            assert code == 227, text
        for _ in range(100):
            code, text = client.command("EPSV")
            assert code == 229, text
        for _ in range(100):  # connect each time, never transfer
            code, text = client.command("PASV")
            assert code == 227, text
            socket.create_connection(parse_227(text), timeout=TIMEOUT).close()
        assert client.command("ABOR")[0] == 225
        time.sleep(0.5)
        after = _open_fds(pid)
        assert after <= before + 2, f"descriptors grew from {before} to {after}"
        code, text = client.command("STAT")
        assert code == 211
        assert re.search(r"\b0/\d+ passive ports in use", text), text
    site.assert_intact()


@needs_alias
def test_passive_port_theft_refused(site: Site) -> None:
    with site.logged_in() as client:
        code, text = client.command("PASV")
        assert code == 227, text
        address = parse_227(text)
        with socket.socket() as thief:
            thief.settimeout(TIMEOUT)
            thief.bind(("127.0.0.2", 0))
            thief.connect(address)
            data_sock = socket.create_connection(address, timeout=TIMEOUT)
            with data_sock:
                code, text = client.command("RETR etc/passwd")
                assert code == 150, text
                assert site.recv_all(data_sock) == INSIDE_PASSWD
            assert client.read_reply()[0] == 226
            try:
                stolen = thief.recv(65536)
            except ConnectionResetError:
                stolen = b""
            assert stolen == b"", f"the thief received {stolen!r}"
        with pytest.raises(OSError):  # the listener served its one connection and is gone
            socket.create_connection(address, timeout=2).close()
        assert "port theft" in site.server.log()
    site.assert_intact()


def _client_hello() -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_tls_client_hello_on_plain_port(site: Site) -> None:
    hello = _client_hello()
    assert hello[:1] == b"\x16"
    with site.client() as client:
        client.send_raw(hello)
        time.sleep(0.3)
        client.send_raw(b"\r\nNOOP\r\n")
        codes: list[int] = []
        try:
            while 200 not in codes and 421 not in codes:
                codes.append(client.read_reply()[0])
        except ConnectionError:
            codes.append(0)  # closed: acceptable
        assert all(code >= 500 or code in {0, 200, 421} for code in codes[:-1]), codes
        assert codes[-1] in {0, 200, 421}, codes
    site.assert_intact()


def test_tls_client_hello_before_greeting_read(site: Site) -> None:
    # A TLS client speaks first, without waiting for 220.
    with socket.create_connection((site.server.host, site.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(_client_hello())
        sock.settimeout(2)
        received = b""
        try:
            while len(received) < 100_000:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        codes = [int(line[:3]) for line in received.split(b"\r\n") if line[:3].isdigit()]
        assert codes[:1] == [220], received
        assert all(code == 220 or code >= 500 for code in codes), received
    site.assert_intact()


@pytest.mark.parametrize(
    "line",
    [
        b"NO\xff\xf1OP\r\n",  # IAC NOP inside the verb
        b"\xff\xfb\x01NOOP\r\n",  # IAC WILL ECHO before it
        b"\xff\xfd\x03NO\xff\xfe\x18OP\r\n",  # IAC DO, IAC DONT
        b"\xff\xf4\xff\xf2NOOP\r\n",  # IAC IP IAC DM (a Synch)
        b"N\xff\xf6O\xff\xf1O\xff\xf9P\r\n",  # AYT, NOP, GA
    ],
)
def test_telnet_commands_inside_a_command(site: Site, line: bytes) -> None:
    with site.client() as client:
        client.send_raw(line)
        code, text = client.read_reply()
        assert code == 200, f"{line!r} -> {code} {text}"
        # Split across packets, the same sequence still works.
        for byte in line:
            client.send_raw(bytes([byte]))
            time.sleep(0.002)
        assert client.read_reply()[0] == 200
    site.assert_intact()


# -- many idle and slow clients ---------------------------------------------------------------


def test_idle_and_slow_clients_do_not_block_others(site: Site) -> None:
    idle = [site.client() for _ in range(20)]
    slow = [site.client() for _ in range(5)]
    message = b"USER slowpoke\r\n"  # 15 bytes at 0.2 s: about 3 s
    errors: list[BaseException] = []

    def drip(client: Client) -> None:
        try:
            for byte in message:
                client.send_raw(bytes([byte]))
                time.sleep(0.2)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=drip, args=(client,), daemon=True) for client in slow]
    try:
        for thread in threads:
            thread.start()
        started = time.monotonic()
        payload = os.urandom(2 * 1024 * 1024)
        with site.logged_in() as client:
            assert site.upload(client, "STOR big.bin", payload) == 226
            code, received = site.download(client, "RETR big.bin")
            assert code == 226
            assert received == payload
            code, listing = site.download(client, "LIST")
            assert code == 226
            assert b"big.bin" in listing
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"a normal client took {elapsed:.1f}s next to slow ones"
        for thread in threads:
            thread.join(timeout=TIMEOUT)
        assert errors == []
        for client in slow:
            assert client.read_reply()[0] == 331
        for client in idle:
            assert client.command("NOOP")[0] == 200
    finally:
        for client in idle + slow:
            client.close()
    site.assert_intact()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")
def test_client_that_never_reads_replies(site: Site) -> None:
    pid = site.server.process.pid
    rss_before = _rss_kib(pid)
    with site.logged_in() as client:
        client.sock.setblocking(False)
        burst = b"NOOP\r\nPWD\r\nHELP\r\n" * 2000
        sent = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sent < 50 * 1024 * 1024:
            try:
                sent += client.sock.send(burst)
            except BlockingIOError:
                time.sleep(0.05)
        # Back-pressure: the server stopped reading long before 50 MB of commands.
        assert sent < 50 * 1024 * 1024, "the server kept reading commands nobody reads replies to"
        rss_after = _rss_kib(pid)
        assert rss_after - rss_before < 64 * 1024, f"RSS grew from {rss_before} to {rss_after} KiB"
        with site.logged_in() as other:  # others are served meanwhile
            assert other.command("NOOP")[0] == 200
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01" + b"\x00" * 7)
    site.assert_intact()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_connection_churn_and_resets_do_not_leak(site: Site) -> None:
    pid = site.server.process.pid
    with site.logged_in() as warm:
        assert warm.command("NOOP")[0] == 200
    time.sleep(0.2)
    before = _open_fds(pid)
    linger_reset = b"\x01" + b"\x00" * 7
    for i in range(150):
        sock = socket.create_connection((site.server.host, site.server.port), timeout=TIMEOUT)
        if i % 3 == 1:
            sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\nPASV\r\n".encode())
        elif i % 3 == 2:
            sock.sendall(b"NOOP")  # half a command
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_reset)
        sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _open_fds(pid) > before + 2:
        time.sleep(0.1)
    after = _open_fds(pid)
    assert after <= before + 2, f"descriptors grew from {before} to {after}"
    site.assert_intact()


def test_connection_flood_is_bounded(tmp_path: Path) -> None:
    site = make_site(tmp_path, "--max-connections-per-ip", "30")
    socks: list[socket.socket] = []
    greetings: list[bytes] = []
    try:
        for _ in range(100):
            sock = socket.create_connection((site.server.host, site.server.port), timeout=TIMEOUT)
            socks.append(sock)
        for sock in socks:
            try:
                greetings.append(sock.recv(200)[:3])
            except (ConnectionResetError, TimeoutError):
                greetings.append(b"")
        assert greetings[:30] == [b"220"] * 30, greetings
        assert set(greetings[30:]) <= {b"421", b""}, greetings
        for sock in socks[30:]:  # refused connections are closed by the server
            try:
                assert sock.recv(200) == b""
            except ConnectionResetError:
                pass
        for sock in socks[:30]:
            sock.close()
        time.sleep(0.5)  # the server counts the closed sessions out
        site.assert_intact()
    finally:
        for sock in socks:
            sock.close()
        site.server.stop()
