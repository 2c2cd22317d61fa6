"""Reply codes for every command, as a raw client sees them on the wire.

Each test talks to a real ``ftpferry serve`` process through a bare socket
(:class:`RawClient`), opening data connections itself, so that every reply
code and every ordering rule of RFC 959 / 2389 / 2428 / 3659 is checked
exactly, without a client library smoothing anything over.
"""

from __future__ import annotations

import calendar
import os
import re
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, start_server

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
BIG_SIZE = 200 * 1024 * 1024


# -- helpers ----------------------------------------------------------------------------


def parse_227(text: str) -> tuple[str, int]:
    """The host and port of a ``227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`` reply."""
    match = re.search(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})", text)
    assert match is not None, f"no address in 227 reply {text!r}"
    numbers = [int(group) for group in match.groups()]
    return ".".join(str(n) for n in numbers[:4]), numbers[4] * 256 + numbers[5]


def open_pasv(client: RawClient) -> socket.socket:
    """PASV, then connect to the advertised address."""
    code, text = client.command("PASV")
    assert code == 227, text
    host, port = parse_227(text)
    return socket.create_connection((host, port), timeout=TIMEOUT)


def recv_all(sock: socket.socket) -> bytes:
    """Everything until the peer closes."""
    chunks: list[bytes] = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def recv_some(sock: socket.socket, amount: int) -> bytes:
    """At least ``amount`` bytes (fewer only if the peer closes first)."""
    data = bytearray()
    while len(data) < amount:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def download(client: RawClient, command: str) -> tuple[int, bytes]:
    """A transfer into the client over PASV: (final reply code, data)."""
    data_sock = open_pasv(client)
    with data_sock:
        code, _ = client.command(command)
        if code != 150:
            return code, b""
        payload = recv_all(data_sock)
    return client.read_reply()[0], payload


def upload(client: RawClient, command: str, payload: bytes) -> int:
    """A transfer from the client over PASV: the final reply code."""
    data_sock = open_pasv(client)
    with data_sock:
        code, _ = client.command(command)
        if code != 150:
            return code
        data_sock.sendall(payload)
    return client.read_reply()[0]


def reply_lines(text: str) -> list[str]:
    """The stripped lines of a multi-line reply text."""
    return [line.strip() for line in text.split("\n")]


@pytest.fixture
def client(server: ServerProcess) -> Iterator[RawClient]:
    """A logged-in raw control connection to a fresh server."""
    with RawClient(server.host, server.port, timeout=TIMEOUT) as raw_client:
        raw_client.login()
        yield raw_client


@pytest.fixture
def big_file(server: ServerProcess) -> str:
    """A 200 MB sparse file in the root (instant to create, slow to send)."""
    path = server.root / "big.bin"
    with path.open("wb") as handle:
        handle.truncate(BIG_SIZE)
    return "big.bin"


# -- login ---------------------------------------------------------------------------------


def test_greeting_is_220(raw: RawClient) -> None:
    assert raw.greeting[0] == 220


def test_user_pass_login(raw: RawClient) -> None:
    assert raw.command(f"USER {USER}")[0] == 331
    assert raw.command(f"PASS {PASSWORD}")[0] == 230
    assert raw.command("PWD")[0] == 257


def test_wrong_password_530_after_delay(raw: RawClient) -> None:
    assert raw.command(f"USER {USER}")[0] == 331
    started = time.monotonic()
    code, text = raw.command("PASS wrong")
    elapsed = time.monotonic() - started
    assert code == 530, text
    assert elapsed >= 0.9, f"530 came after {elapsed:.2f}s; the failed-login delay is 1 s"
    assert raw.command("PWD")[0] == 530
    raw.login()  # a second attempt on the same connection works


def test_unknown_user_530(raw: RawClient) -> None:
    assert raw.command("USER nobody")[0] == 331
    assert raw.command("PASS whatever")[0] == 530


def test_pass_without_user_503(raw: RawClient) -> None:
    assert raw.command(f"PASS {PASSWORD}")[0] == 503


def test_pass_when_logged_in_503(client: RawClient) -> None:
    assert client.command(f"PASS {PASSWORD}")[0] == 503


# -- session settings ---------------------------------------------------------------------


def test_syst_215(raw: RawClient) -> None:
    code, text = raw.command("SYST")
    assert code == 215
    assert "UNIX" in text


def test_noop_200(raw: RawClient) -> None:
    assert raw.command("NOOP")[0] == 200


@pytest.mark.parametrize(
    ("argument", "expected"),
    [("A", 200), ("A N", 200), ("I", 200), ("L 8", 200), ("i", 200), ("E", 504), ("X", 501)],
)
def test_type(client: RawClient, argument: str, expected: int) -> None:
    assert client.command(f"TYPE {argument}")[0] == expected


@pytest.mark.parametrize(("argument", "expected"), [("S", 200), ("B", 200), ("C", 504), ("Z", 501)])
def test_mode(client: RawClient, argument: str, expected: int) -> None:
    assert client.command(f"MODE {argument}")[0] == expected


@pytest.mark.parametrize(("argument", "expected"), [("F", 200), ("R", 504), ("Q", 501)])
def test_stru(client: RawClient, argument: str, expected: int) -> None:
    assert client.command(f"STRU {argument}")[0] == expected


def test_allo_202(client: RawClient) -> None:
    assert client.command("ALLO 1000")[0] == 202


def test_feat_211_lists_extensions(raw: RawClient) -> None:
    code, text = raw.command("FEAT")
    assert code == 211
    features = reply_lines(text)
    for wanted in ("EPSV", "EPRT", "UTF8", "REST STREAM", "SIZE", "MDTM"):
        assert wanted in features, f"{wanted} missing from FEAT: {features}"
    assert any(line.startswith("MLST ") for line in features), features


def test_opts_utf8_on(raw: RawClient) -> None:
    assert raw.command("OPTS UTF8 ON")[0] == 200


def test_opts_mlst_selects_facts(client: RawClient, server: ServerProcess) -> None:
    (server.root / "f.txt").write_bytes(b"12345")
    code, text = client.command("OPTS MLST type;size;")
    assert code == 200, text
    code, text = client.command("MLST f.txt")
    assert code == 250, text
    facts = reply_lines(text)[1]
    assert "type=file;" in facts.lower()
    assert "size=5;" in facts.lower()
    assert "modify=" not in facts.lower()


def test_help_214(raw: RawClient) -> None:
    code, text = raw.command("HELP")
    assert code == 214
    assert "RETR" in text
    code, text = raw.command("HELP RETR")
    assert code == 214
    assert "RETR" in text


def test_site_help_214(client: RawClient) -> None:
    code, text = client.command("SITE HELP")
    assert code == 214
    assert "CHMOD" in text


def test_site_chmod_changes_mode(client: RawClient, server: ServerProcess) -> None:
    target = server.root / "f.txt"
    target.write_bytes(b"x")
    target.chmod(0o600)
    assert client.command("SITE CHMOD 755 f.txt")[0] == 200
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_site_unknown_500(client: RawClient) -> None:
    assert client.command("SITE FOO")[0] == 500


def test_rein_logs_out(client: RawClient) -> None:
    assert client.command("REIN")[0] == 220
    assert client.command("PWD")[0] == 530
    client.login()
    assert client.command("PWD")[0] == 257


def test_abor_without_transfer_225(client: RawClient) -> None:
    assert client.command("ABOR")[0] == 225


def test_abor_closes_a_pending_passive_listener(client: RawClient) -> None:
    code, text = client.command("PASV")
    assert code == 227, text
    address = parse_227(text)
    assert client.command("ABOR")[0] == 225
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2).close()
    assert client.command("RETR anything")[0] in {425, 550}


@pytest.mark.parametrize("line", ["FOOBAR", "XYZZY arg", "HELLO"])
def test_unknown_command_500(client: RawClient, line: str) -> None:
    assert client.command(line)[0] == 500


@pytest.mark.parametrize("line", ["ACCT billing", "AUTH TLS", "AUTH SSL", "SMNT /"])
def test_not_implemented_502(raw: RawClient, line: str) -> None:
    assert raw.command(line)[0] == 502


def test_empty_line_500(client: RawClient) -> None:
    assert client.command("")[0] == 500
    assert client.command("NOOP")[0] == 200


@pytest.mark.parametrize(("argument", "expected"), [("100", 350), ("-1", 501), ("abc", 501)])
def test_rest(client: RawClient, argument: str, expected: int) -> None:
    assert client.command(f"REST {argument}")[0] == expected


def test_quit_221_and_close(client: RawClient) -> None:
    assert client.command("QUIT")[0] == 221
    assert client.sock.recv(100) == b""


# -- directories and files ----------------------------------------------------------------


def test_pwd_doubles_quotes(client: RawClient, server: ServerProcess) -> None:
    code, text = client.command('MKD a"b')
    assert code == 257, text
    assert text.startswith('"/a""b" created'), text
    assert (server.root / 'a"b').is_dir()
    assert client.command('CWD a"b')[0] == 250
    code, text = client.command("PWD")
    assert code == 257
    assert text.startswith('"/a""b"'), text
    code, text = client.command("XPWD")
    assert code == 257
    assert text.startswith('"/a""b"'), text


def test_directory_commands(client: RawClient, server: ServerProcess) -> None:
    root = server.root
    code, text = client.command("MKD d")
    assert code == 257
    assert text.startswith('"/d"'), text
    assert client.command("XMKD e")[0] == 257
    assert (root / "d").is_dir()
    assert (root / "e").is_dir()
    assert client.command("MKD d")[0] == 550  # exists
    assert client.command("CWD d")[0] == 250
    assert client.command("PWD")[1].startswith('"/d"')
    assert client.command("CDUP")[0] == 250
    assert client.command("PWD")[1].startswith('"/"')
    assert client.command("CDUP")[0] == 250  # stays at /
    assert client.command("PWD")[1].startswith('"/"')
    assert client.command("XCWD e")[0] == 250
    assert client.command("XPWD")[1].startswith('"/e"')
    assert client.command("XCUP")[0] == 250
    assert client.command("XPWD")[1].startswith('"/"')
    assert client.command("CWD missing")[0] == 550
    (root / "d" / "inner.txt").write_bytes(b"x")
    assert client.command("RMD d")[0] == 550  # not empty
    assert client.command("DELE d")[0] == 550  # a directory
    assert client.command("DELE d/inner.txt")[0] == 250
    assert not (root / "d" / "inner.txt").exists()
    assert client.command("DELE d/inner.txt")[0] == 550
    assert client.command("RMD d")[0] == 250
    assert client.command("XRMD e")[0] == 250
    assert not (root / "d").exists()
    assert not (root / "e").exists()
    assert client.command("RMD d")[0] == 550


def test_cwd_into_file_550(client: RawClient, server: ServerProcess) -> None:
    (server.root / "f.txt").write_bytes(b"x")
    assert client.command("CWD f.txt")[0] == 550


def test_rename(client: RawClient, server: ServerProcess) -> None:
    (server.root / "old.txt").write_bytes(b"content")
    assert client.command("RNFR old.txt")[0] == 350
    assert client.command("RNTO new.txt")[0] == 250
    assert not (server.root / "old.txt").exists()
    assert (server.root / "new.txt").read_bytes() == b"content"


def test_rnfr_missing_550(client: RawClient) -> None:
    assert client.command("RNFR missing.txt")[0] == 550
    assert client.command("RNTO other.txt")[0] == 503


def test_rnto_without_rnfr_503(client: RawClient) -> None:
    assert client.command("RNTO new.txt")[0] == 503


def test_rnfr_then_other_command_then_rnto_503(client: RawClient, server: ServerProcess) -> None:
    (server.root / "old.txt").write_bytes(b"content")
    assert client.command("RNFR old.txt")[0] == 350
    assert client.command("NOOP")[0] == 200
    assert client.command("RNTO new.txt")[0] == 503
    assert (server.root / "old.txt").exists()
    assert not (server.root / "new.txt").exists()


def test_size_and_mdtm(client: RawClient, server: ServerProcess) -> None:
    target = server.root / "f.txt"
    target.write_bytes(b"x" * 1234)
    stamp = calendar.timegm((2021, 3, 4, 5, 6, 7))
    os.utime(target, (stamp, stamp))
    assert client.command("SIZE f.txt") == (213, "1234")
    code, text = client.command("MDTM f.txt")
    assert code == 213
    assert text.startswith("20210304050607"), text
    assert client.command("SIZE missing.txt")[0] == 550
    assert client.command("MDTM missing.txt")[0] == 550


def test_mfmt_changes_mtime(client: RawClient, server: ServerProcess) -> None:
    target = server.root / "f.txt"
    target.write_bytes(b"x")
    code, text = client.command("MFMT 20200102030405 f.txt")
    assert code == 213, text
    assert target.stat().st_mtime == calendar.timegm((2020, 1, 2, 3, 4, 5))
    assert client.command("MFMT notatime f.txt")[0] == 501
    assert client.command("MFMT 20200102030405 missing.txt")[0] == 550


def test_mlst_250_multiline(client: RawClient, server: ServerProcess) -> None:
    (server.root / "f.txt").write_bytes(b"x" * 42)
    code, text = client.command("MLST f.txt")
    assert code == 250
    lines = text.split("\n")
    assert len(lines) == 3, lines
    facts = lines[1]
    assert facts.startswith(" "), "the facts line must start with a space (RFC 3659)"
    assert "type=file;" in facts.lower()
    assert "size=42;" in facts.lower()
    assert facts.endswith(" /f.txt"), facts
    code, text = client.command("MLST")
    assert code == 250
    assert "type=cdir" in text.lower() or "type=dir" in text.lower(), text


def test_stat_211_and_stat_path_213(client: RawClient, server: ServerProcess) -> None:
    (server.root / "listed.txt").write_bytes(b"x")
    code, text = client.command("STAT")
    assert code == 211
    assert USER in text
    code, text = client.command("STAT /")
    assert code == 213
    assert "listed.txt" in text
    assert client.command("STAT missing")[0] == 550


# -- data channel set-up ------------------------------------------------------------------


def test_epsv_all_refuses_other_modes(client: RawClient) -> None:
    assert client.command("EPSV ALL")[0] == 200
    assert client.command("PASV")[0] == 501
    assert client.command("PORT 127,0,0,1,200,10")[0] == 501
    assert client.command("EPRT |1|127.0.0.1|51210|")[0] == 501
    code, text = client.command("EPSV")
    assert code == 229, text
    assert re.search(r"\(\|\|\|\d+\|\)", text), text


def test_epsv_2_on_ipv4_522(client: RawClient) -> None:
    assert client.command("EPSV 2")[0] == 522
    assert client.command("EPSV 1")[0] == 229


@pytest.mark.parametrize("argument", ["|2|::1|5000|", "|3|127.0.0.1|5000|", "|3|x|5000|"])
def test_eprt_wrong_family_522(client: RawClient, argument: str) -> None:
    assert client.command(f"EPRT {argument}")[0] == 522


def test_retr_without_data_channel_425(client: RawClient, server: ServerProcess) -> None:
    (server.root / "f.txt").write_bytes(b"x")
    assert client.command("RETR f.txt")[0] == 425
    assert client.command("NOOP")[0] == 200


def test_retr_missing_550(client: RawClient) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        assert client.command("RETR missing.txt")[0] == 550
    assert client.command("NOOP")[0] == 200


def test_retr_of_a_directory_550(client: RawClient, server: ServerProcess) -> None:
    (server.root / "d").mkdir()
    data_sock = open_pasv(client)
    with data_sock:
        assert client.command("RETR d")[0] == 550
        assert client.command("SIZE d")[0] == 550
    assert client.command("NOOP")[0] == 200


def test_stor_into_missing_directory_550(client: RawClient, server: ServerProcess) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        assert client.command("STOR nodir/f.txt")[0] == 550
    assert not (server.root / "nodir").exists()


# -- transfers ------------------------------------------------------------------------------


def test_retr_over_pasv(client: RawClient, server: ServerProcess) -> None:
    payload = os.urandom(300_000)
    (server.root / "f.bin").write_bytes(payload)
    assert client.command("TYPE I")[0] == 200
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command("RETR f.bin")
        assert code == 150, text
        received = recv_all(data_sock)
    assert client.read_reply()[0] == 226
    assert received == payload


def test_stor_list_nlst_over_pasv(client: RawClient, server: ServerProcess) -> None:
    payload = os.urandom(100_000)
    assert upload(client, "STOR up.bin", payload) == 226
    assert (server.root / "up.bin").read_bytes() == payload
    code, listing = download(client, "LIST")
    assert code == 226
    assert b"up.bin" in listing
    code, names = download(client, "NLST")
    assert code == 226
    assert names.split(b"\r\n")[0] == b"up.bin"
    code, facts = download(client, "MLSD")
    assert code == 226
    assert b"up.bin" in facts


def test_stou_150_names_the_file(client: RawClient, server: ServerProcess) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command("STOU")
        assert code == 150, text
        match = re.search(r"FILE: (\S+)", text)
        assert match is not None, text
        data_sock.sendall(b"unique")
    assert client.read_reply()[0] == 226
    assert (server.root / match.group(1)).read_bytes() == b"unique"


def _send_abor_synch(client: RawClient, style: str) -> None:
    if style == "telnet-synch":
        # BSD ftp: IAC IP IAC as urgent data, then DM and the command in band.
        client.sock.send(b"\xff\xf4\xff", socket.MSG_OOB)
        client.send_raw(b"\xf2ABOR\r\n")
    else:
        # Python's ftplib.FTP.abort: the command line itself as urgent data.
        client.sock.sendall(b"ABOR\r\n", socket.MSG_OOB)


@pytest.mark.parametrize("style", ["telnet-synch", "ftplib"])
def test_abor_during_transfer(client: RawClient, big_file: str, style: str) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command(f"RETR {big_file}")
        assert code == 150, text
        assert len(recv_some(data_sock, 256 * 1024)) >= 256 * 1024
        _send_abor_synch(client, style)
        first = client.read_reply()
        assert first[0] == 426, first
        second = client.read_reply()
        assert second[0] == 226, second
    assert client.command("NOOP")[0] == 200
    assert client.command("PWD")[0] == 257


def test_abor_during_stor(client: RawClient, server: ServerProcess) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command("STOR partial.bin")
        assert code == 150, text
        data_sock.sendall(b"x" * 100_000)
        deadline = time.monotonic() + 5
        target = server.root / "partial.bin"
        while time.monotonic() < deadline and target.stat().st_size < 100_000:
            time.sleep(0.05)
        _send_abor_synch(client, "telnet-synch")
        assert client.read_reply()[0] == 426
        assert client.read_reply()[0] == 226
    assert target.stat().st_size == 100_000
    assert client.command("NOOP")[0] == 200


def test_stat_during_transfer(client: RawClient, big_file: str) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command(f"RETR {big_file}")
        assert code == 150, text
        assert len(recv_some(data_sock, 256 * 1024)) >= 256 * 1024
        code, text = client.command("STAT")
        assert code == 211, text
        match = re.search(r"(\d+) bytes", text)
        assert match is not None, text
        assert int(match.group(1)) > 0
        client.send_raw(b"ABOR\r\n")
        assert client.read_reply()[0] == 426
        assert client.read_reply()[0] == 226
    assert client.command("NOOP")[0] == 200


def test_quit_during_transfer(client: RawClient, big_file: str) -> None:
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command(f"RETR {big_file}")
        assert code == 150, text
        recv_some(data_sock, 64 * 1024)
        code, text = client.command("QUIT")
        assert code == 221, text
        client.sock.settimeout(5)
        assert client.sock.recv(4096) == b""


def test_commands_queued_during_transfer_wait_for_226(
    client: RawClient, server: ServerProcess
) -> None:
    payload = os.urandom(2 * 1024 * 1024)
    (server.root / "f.bin").write_bytes(payload)
    data_sock = open_pasv(client)
    with data_sock:
        client.send_raw(b"RETR f.bin\r\nPWD\r\nNOOP\r\n")
        assert client.read_reply()[0] == 150
        assert recv_all(data_sock) == payload
    assert [client.read_reply()[0] for _ in range(3)] == [226, 257, 200]


def test_data_connection_reset_mid_retr_426(
    client: RawClient, server: ServerProcess, big_file: str
) -> None:
    data_sock = open_pasv(client)
    code, text = client.command(f"RETR {big_file}")
    assert code == 150, text
    assert len(recv_some(data_sock, 256 * 1024)) >= 256 * 1024
    data_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    data_sock.close()
    code, text = client.read_reply()
    assert code == 426, text
    assert client.command("NOOP")[0] == 200
    (server.root / "small.txt").write_bytes(b"still works")
    assert download(client, "RETR small.txt") == (226, b"still works")


def test_data_connection_closed_mid_retr_426(client: RawClient, big_file: str) -> None:
    data_sock = open_pasv(client)
    code, text = client.command(f"RETR {big_file}")
    assert code == 150, text
    recv_some(data_sock, 64 * 1024)
    data_sock.close()  # orderly close with unread data: the kernel answers with RST
    code, text = client.read_reply()
    assert code == 426, text
    assert client.command("NOOP")[0] == 200


def test_interrupted_stor_keeps_bytes_and_resumes(client: RawClient, server: ServerProcess) -> None:
    payload = os.urandom(300_000)
    target = server.root / "resume.bin"
    data_sock = open_pasv(client)
    with data_sock:
        code, text = client.command("STOR resume.bin")
        assert code == 150, text
        data_sock.sendall(payload[:100_000])
    code, text = client.read_reply()
    assert code in {226, 426}, text
    assert target.read_bytes() == payload[:100_000]
    assert client.command("SIZE resume.bin") == (213, "100000")
    assert client.command("REST 100000")[0] == 350
    assert upload(client, "STOR resume.bin", payload[100_000:200_000]) == 226
    assert target.read_bytes() == payload[:200_000]
    assert upload(client, "APPE resume.bin", payload[200_000:]) == 226
    assert target.read_bytes() == payload
    assert download(client, "RETR resume.bin") == (226, payload)
    assert client.command("REST 250000")[0] == 350
    assert download(client, "RETR resume.bin") == (226, payload[250_000:])


def test_passive_connection_never_arrives_425(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--data-timeout", "2")
    try:
        (server.root / "f.txt").write_bytes(b"x")
        with RawClient(server.host, server.port, timeout=TIMEOUT) as client:
            client.login()
            code, text = client.command("PASV")
            assert code == 227, text
            host, port = parse_227(text)
            started = time.monotonic()
            code, text = client.command("RETR f.txt")
            elapsed = time.monotonic() - started
            assert code == 425, text
            assert 1.5 <= elapsed <= 6, f"425 after {elapsed:.2f}s with --data-timeout 2"
            assert client.command("NOOP")[0] == 200
            with pytest.raises(OSError):  # the listener is gone
                socket.create_connection((host, port), timeout=2).close()
            assert download(client, "RETR f.txt") == (226, b"x")
    finally:
        server.stop()


def test_port_to_closed_port_425(client: RawClient, server: ServerProcess) -> None:
    (server.root / "f.txt").write_bytes(b"active")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    assert closed_port >= 1024
    code, text = client.command(f"PORT 127,0,0,1,{closed_port >> 8},{closed_port & 0xFF}")
    assert code == 200, text
    code, text = client.command("RETR f.txt")
    assert code == 425, text
    assert client.command("NOOP")[0] == 200
    assert download(client, "RETR f.txt") == (226, b"active")


def test_retr_over_port(client: RawClient, server: ServerProcess) -> None:
    (server.root / "f.txt").write_bytes(b"active mode")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]
        assert client.command(f"EPRT |1|127.0.0.1|{port}|")[0] == 200
        client.send_raw(b"RETR f.txt\r\n")
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            assert client.read_reply()[0] == 150
            assert recv_all(conn) == b"active mode"
    assert client.read_reply()[0] == 226


# -- anonymous, read-only -------------------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every name under root with its size, mode and mtime."""
    result: dict[str, tuple[int, int, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        result[str(path.relative_to(root))] = (info.st_size, info.st_mode, info.st_mtime_ns)
    return result


def test_anonymous_is_read_only(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--anonymous", user=None)
    try:
        root = server.root
        (root / "pub.txt").write_bytes(b"public")
        (root / "dir").mkdir()
        before = _tree(root)
        with RawClient(server.host, server.port, timeout=TIMEOUT) as client:
            assert client.command("USER anonymous")[0] == 331
            assert client.command("PASS x")[0] == 230
            assert download(client, "RETR pub.txt") == (226, b"public")
            code, listing = download(client, "LIST")
            assert code == 226
            assert b"pub.txt" in listing
            refused = {}
            for command in ("STOR new.txt", "APPE pub.txt", "STOU"):
                code = upload(client, command, b"should not be written")
                if code != 550:
                    refused[command] = code
            for command in (
                "DELE pub.txt",
                "MKD newdir",
                "XMKD newdir",
                "RMD dir",
                "XRMD dir",
                "RNFR pub.txt",
                "SITE CHMOD 777 pub.txt",
                "MFMT 20000101000000 pub.txt",
            ):
                code, _ = client.command(command)
                if code != 550:
                    refused[command] = code
            assert refused == {}, f"read-only account got these replies instead of 550: {refused}"
            assert client.command("RNTO renamed.txt")[0] in {503, 550}
            assert client.command("NOOP")[0] == 200
        assert _tree(root) == before
    finally:
        server.stop()
