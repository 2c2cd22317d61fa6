"""Property-based fuzzing of the control channel of ONE real server process.

Each example opens a control connection, optionally logs in, and sends a
random mix of command lines (real verbs with hostile arguments: ``../..``,
NUL, CR, 0xFF, Telnet escapes, very long, non-UTF-8, numbers that overflow,
data-port arguments) and raw bytes, with line ends in odd places; sometimes
an unterminated line longer than the server's discard limit.  Then it sends
a marker (``HELP FUZZMARKnnn``, answered ``501 Unknown command ...``) and
``NOOP``, and checks:

* every line the server sent is a reply line (``^\\d{3}[ -]``) or a
  continuation line (starting with a space), nothing else, no stray CR/LF;
* the session answered the marker and then NOOP with 200, or it was closed
  and its last reply was 421 or 221 (after QUIT or over-long input);
* the server process is alive and a fresh client can log in;
* nothing outside the root changed or appeared, and no name or byte from
  outside the root was ever sent to the client.

Data-channel commands may open passive listeners; the fuzzer never connects
to them, and the server's data time-out of 1 s bounds every transfer
command.  The defender allow-lists loopback so that the many failed logins
never ban the fuzzer (bans have their own tests).
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import PASSWORD, USER, ServerProcess, start_server
from tests.security.support import can_log_in, log_tail, write_config

pytestmark = pytest.mark.integration

REPLY_LINE = re.compile(rb"^\d{3}[ -]")
EXAMPLE_BOUND = 40.0
"""Seconds one example may take, worst case (each transfer command waits <= 1 s)."""

VERBS = [
    "USER", "PASS", "ACCT", "CWD", "XCWD", "CDUP", "XCUP", "PWD", "LIST", "NLST", "MLSD",
    "MLST", "RETR", "STOR", "APPE", "STOU", "DELE", "MKD", "XMKD", "RMD", "XRMD", "RNFR",
    "RNTO", "REST", "SIZE", "MDTM", "MFMT", "PORT", "EPRT", "PASV", "EPSV", "TYPE", "MODE",
    "STRU", "SITE", "STAT", "ABOR", "REIN", "OPTS", "FEAT", "HELP", "SYST", "NOOP", "ALLO",
    "AUTH", "PBSZ", "PROT", "CCC", "QUIT", "SMNT", "XYZZY", "A", "RETRRETRX",
]  # fmt: skip

HOSTILE: list[bytes] = [
    b"..", b"../..", b"../../../../../../etc/passwd", b"/..", b"/../..", b"../sentinel.txt",
    b"../etc/passwd", b"../secret", b"/../secret/", b"..\\..\\", b"~", b"~root", b"//", b"/./",
    b"\x00", b"a\x00b", b"\r", b"\xff", b"\xff\xff", b"\xff\xf4\xff\xf2", b"\xff\xfb",
    b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x9c\x93", "é".encode(), "📁".encode(), b"%s%s%n",
    b"%00", b"*", b"*/*/*", b"[", b"[!a-", b"?", b"-la", b"-R", b"0", b"-1",
    b"18446744073709551616", b"99999999999999999999999999", b"1e9", b"127,0,0,1,0,1",
    b"127,0,0,1,256,1", b"10,0,0,1,4,1", b"1,2,3", b",,,,,", b"|1|127.0.0.1|1|", b"|2|::1|1|",
    b"|1|10.0.0.1|80|", b"|3|x|1|", b"||||", b"|||", b"A", b"I", b"E", b"L 8", b"A N", b"S",
    b"B", b"F", b"R", b"P", b"C", b"TLS", b"ALL", b"1", b"2", b"UTF8 ON", b"UTF8 OFF",
    b"MLST type;size;", b"CHMOD 777 /", b"CHMOD 777 ..", b"CHMOD 000 ../sentinel.txt",
    b"CHMOD 7777 file.txt", b"HELP", b"file.txt", b"dir", b"dir/inner.txt", b"new",
    b"20200101000000 file.txt", b"20200101000000 ../sentinel.txt", b" ", b"  ", b"\t",
    b"x" * 300, b"\n", b"\r\n",
]  # fmt: skip

TERMINATORS = [b"\r\n"] * 6 + [b"\n", b"\r", b"", b"\r\r\n", b"\n\r", b"\x00\r\n"]

arguments = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(HOSTILE),
            st.binary(max_size=8),
            st.text(max_size=10).map(lambda text: text.encode("utf-8", "surrogatepass")),
        ),
        max_size=4,
    ).map(b"".join),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: str(n).encode()),
    st.integers(min_value=1000, max_value=5000).map(lambda n: b"A" * n),
)

verbs = st.tuples(st.sampled_from(VERBS), st.booleans()).map(
    lambda pair: (pair[0].lower() if pair[1] else pair[0]).encode()
)

command_lines = st.tuples(verbs, st.sampled_from([b" ", b" ", b"", b"  ", b"\t"]), arguments).map(
    b"".join
)

SNIPPETS: list[bytes] = [
    b"PASV\r\nLIST\r\n",
    b"EPSV\r\nRETR file.txt\r\n",
    b"EPSV\r\nMLSD ../..\r\n",
    b"PORT 127,0,0,1,0,1\r\nSTOR x\r\n",
    b"EPRT |1|127.0.0.1|1|\r\nRETR file.txt\r\n",
    b"EPSV\r\nSTOR new\r\nABOR\r\n",
    b"PASV\r\nAPPE file.txt\r\nSTAT\r\nQUIT\r\n",
    b"RNFR file.txt\r\nRNTO ../escaped.txt\r\n",
    b"RNFR ../sentinel.txt\r\nRNTO stolen.txt\r\n",
    b"REST 5\r\nEPSV\r\nRETR file.txt\r\n",
    b"REST 99999999\r\nPASV\r\nRETR file.txt\r\n",
    b"EPSV ALL\r\nPASV\r\nPORT 127,0,0,1,0,1\r\n",
    b"PASV\r\nPASV\r\nEPSV\r\nEPSV\r\n",
    b"REIN\r\nPASS x\r\nLIST\r\n",
    b"EPSV\r\nSTAT\r\nNLST\r\nSTAT\r\nABOR\r\n",
    b"STAT ..\r\nSTAT ../secret\r\nMLST ../sentinel.txt\r\n",
    b"MKD a\r\nCWD a\r\nCWD ../../..\r\nPWD\r\nRMD /a\r\n",
]
"""Short command sequences reaching states random lines rarely reach (transfers, renames)."""

items = st.one_of(
    st.tuples(
        st.one_of(command_lines, command_lines, command_lines, st.binary(max_size=100)),
        st.sampled_from(TERMINATORS),
    ).map(b"".join),
    st.sampled_from(SNIPPETS),
)


@dataclass(frozen=True)
class Attack:
    """One example: whether to log in first, the bytes, how to chop them."""

    login: bool
    payload: bytes
    oversize: bool
    chunk: int | None


attacks = st.builds(
    Attack,
    login=st.booleans(),
    payload=st.lists(items, min_size=1, max_size=8).map(b"".join),
    oversize=st.sampled_from([False] * 19 + [True]),  # about one example in 20
    chunk=st.sampled_from([None, None, 1, 3, 64]),
)


# -- the site ---------------------------------------------------------------------------------


@dataclass
class Site:
    """The server, its root's parent (guarded) and a token that must never leak."""

    server: ServerProcess
    base: Path
    token: bytes
    before: dict[str, tuple[int, int, bytes]]
    neighbours: set[str]

    def snapshot(self) -> dict[str, tuple[int, int, bytes]]:
        """Everything next to the root (the root and the server logs excepted)."""
        result: dict[str, tuple[int, int, bytes]] = {}
        for path in sorted(self.base.rglob("*")):
            relative = path.relative_to(self.base)
            if relative.parts[0] == "root" or relative.name.startswith("server-"):
                continue
            info = path.lstat()
            content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            result[relative.as_posix()] = (info.st_mode, info.st_mtime_ns, content)
        return result

    def neighbour_names(self) -> set[str]:
        return {path.name for path in self.base.parent.iterdir()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("fuzz")
    token = secrets.token_hex(12)
    root = base / "root"
    (root / "dir").mkdir(parents=True)
    (root / "file.txt").write_bytes(b"inside the root\n")
    (root / "dir" / "inner.txt").write_bytes(b"inner\n")
    (base / "sentinel.txt").write_text(f"sentinel {token}\n")
    (base / "etc").mkdir()
    (base / "etc" / "passwd").write_text(f"root:x:0:0:{token}:/root:/bin/sh\n")
    (base / "secret").mkdir()
    (base / "secret" / f"key-{token}.txt").write_text(token)
    old = time.time() - 7 * 86400
    for path in (base / "sentinel.txt", base / "etc" / "passwd", base / "secret"):
        os.utime(path, (old, old))
    config = write_config(
        base,
        '[defender]\nallow = ["127.0.0.0/8"]\nbase_delay = 0.02\n\n'
        "[limits]\ndata_timeout = 1\nmax_connections_per_ip = 64\n",
    )
    proc = start_server(base, "--config", str(config), "--data-timeout", "1", "-v")
    state = Site(proc, base, token.encode(), {}, set())
    state.before = state.snapshot()
    state.neighbours = state.neighbour_names()
    yield state
    proc.stop()


# -- one example ------------------------------------------------------------------------------

_markers = itertools.count()


def send_all(
    sock: socket.socket, data: bytes, chunk: int | None, errors: list[BaseException]
) -> None:
    """Send ``data`` (in chunks), tolerating the server closing on us."""
    try:
        if chunk is None:
            sock.sendall(data)
        else:
            for start in range(0, len(data), chunk):
                sock.sendall(data[start : start + chunk])
    except OSError as exc:  # the server closed (QUIT, 421): expected
        errors.append(exc)


def run_attack(site: Site, attack: Attack) -> None:
    server = site.server
    marker = f"FUZZMARK{next(_markers)}"
    marker_reply = f"501 Unknown command {marker}.".encode()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        received = b""

        def read_until(done: bytes) -> None:
            nonlocal received
            while done not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError
                received += chunk

        read_until(b"\r\n")
        assert received.startswith(b"220 "), received
        if attack.login:
            sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
            read_until(b"230 User alice logged in.\r\n")
        payload = attack.payload
        if attack.oversize:
            payload += b"B" * (70 * 1024)
        payload += f"\r\nHELP {marker}\r\nNOOP\r\n".encode()
        errors: list[BaseException] = []
        sender = threading.Thread(
            target=send_all, args=(sock, payload, attack.chunk, errors), daemon=True
        )
        sender.start()
        deadline = time.monotonic() + EXAMPLE_BOUND
        closed = False
        while True:
            lines = received.split(b"\r\n")
            if marker_reply in lines:
                after = lines[lines.index(marker_reply) + 1 :]
                if len(after) >= 2:  # the NOOP reply and the empty tail
                    break
            remaining = deadline - time.monotonic()
            assert remaining > 0, (
                f"no reply to the marker within {EXAMPLE_BOUND}s; got {received[-2000:]!r}\n"
                + log_tail(server, 30)
            )
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                break
            received += chunk
        sender.join(timeout=EXAMPLE_BOUND)
        assert not sender.is_alive(), "the sender is still blocked"

    lines = received.split(b"\r\n")
    assert lines[-1] == b"", f"unterminated reply bytes at the end: {lines[-1]!r}"
    lines = lines[:-1]
    for line in lines:
        assert REPLY_LINE.match(line) or line.startswith(b" "), (line, received[-2000:])
        assert b"\r" not in line and b"\n" not in line, line
    assert site.token not in received, "bytes from outside the root reached the client"
    event("closed by the server" if closed else "answered NOOP")
    if closed:
        codes = [line[:3] for line in lines if REPLY_LINE.match(line) and line[3:4] == b" "]
        assert codes and codes[-1] in {b"421", b"221"}, (
            f"closed without 421/221: {received[-2000:]!r}\n" + log_tail(server, 30)
        )
    else:
        noop = lines[lines.index(marker_reply) + 1]
        assert noop == b"200 NOOP ok.", (noop, received[-2000:])


def check_intact(site: Site) -> None:
    server = site.server
    assert server.alive(), log_tail(server)
    assert can_log_in(server), log_tail(server)
    assert site.snapshot() == site.before, "something outside the root changed"
    assert site.neighbour_names() == site.neighbours, "a file appeared next to the site"


@pytest.mark.timeout(900)
@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(attack=attacks)
def test_control_channel_fuzz(site: Site, attack: Attack) -> None:
    run_attack(site, attack)
    check_intact(site)


def test_fuzz_log_has_no_tracebacks(site: Site) -> None:
    """Runs after the fuzz test (same module): the server logged no internal error."""
    log = site.server.log()
    assert "Traceback" not in log, log[-6000:]
    assert "internal error" not in log, log[-6000:]
