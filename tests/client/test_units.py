"""The client's pure parts: replies, errors, URLs, passwords, settings, codecs, modes."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftpferry.client import (
    ClientConfig,
    ClientOptions,
    DataConnectionError,
    Features,
    LoginError,
    PermanentError,
    Reply,
    ReplyError,
    TemporaryError,
    forget_modes,
    parse_port_range,
    parse_url,
    remembered_mode,
    resolve_password,
)
from ftpferry.client.entries import mdtm_to_datetime
from ftpferry.client.modes import pasv_connect_host, remember_mode
from ftpferry.client.replies import ReplyParser, parse_pwd_reply
from ftpferry.protocol.ascii import AsciiDecoder, ascii_encode
from ftpferry.protocol.listing import parse_mdtm

# -- replies -------------------------------------------------------------------------------


def _parse(*lines: str) -> list[Reply]:
    parser = ReplyParser()
    replies = []
    for line in lines:
        reply = parser.feed_line(line)
        if reply is not None:
            replies.append(reply)
    return replies


def test_single_and_multi_line_replies() -> None:
    assert _parse("200 OK") == [Reply(200, ("OK",))]
    assert _parse("226") == [Reply(226, ("",))]
    features = _parse("211-Features:", " MDTM", " 211 not the end", "211 End")
    assert features == [Reply(211, ("Features:", "MDTM", "211 not the end", "End"))]
    assert features[0].text == "Features:\nMDTM\n211 not the end\nEnd"
    assert features[0].category == 2


def test_pure_ftpd_style_and_banners() -> None:
    replies = _parse("220-Welcome", "220-You are user 1", "220 Ready", "331 Password")
    assert [reply.code for reply in replies] == [220, 331]
    assert replies[0].lines == ("Welcome", "You are user 1", "Ready")


@pytest.mark.parametrize("line", ["hello", "2000 x", "99 too short", "600 no such class", ""])
def test_malformed_first_line(line: str) -> None:
    with pytest.raises(ValueError, match="not an FTP reply"):
        ReplyParser().feed_line(line)


def test_features() -> None:
    reply = Reply(
        211,
        (
            "Features:",
            "MLST type*;size*;Modify*;perm;",
            "HASH SHA-1;SHA-256*;MD5",
            "AUTH TLS;SSL",
            "utf8",
            "End",
        ),
    )
    features = Features.from_reply(reply)
    assert "mlst" in features and "UTF8" in features and "EPSV" not in features
    assert features["MLST"] == "type*;size*;Modify*;perm;"
    assert features.mlst_facts == ("type", "size", "modify", "perm")
    assert features.hash_algorithms == ("SHA-1", "SHA-256", "MD5")
    assert features.auth_methods == ("TLS", "SSL")
    assert len(Features.from_reply(Reply(500, ("no FEAT",)))) == 0


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('"/" is the current directory.', "/"),
        ('"/a ""quoted"" dir" created', '/a "quoted" dir'),
        ("/no/quotes is current", "/no/quotes"),
        ('MKD ok: "/x"', "/x"),
    ],
)
def test_pwd_reply(text: str, path: str) -> None:
    assert parse_pwd_reply(Reply(257, (text,))) == path


# -- errors --------------------------------------------------------------------------------


def test_reply_errors_are_typed_and_masked() -> None:
    error = ReplyError.from_reply(Reply(550, ("No such file",)), expected=(150,), command="RETR x")
    assert isinstance(error, PermanentError)
    assert (error.code, error.text, error.expected, error.command) == (
        550,
        "No such file",
        (150,),
        "RETR x",
    )
    assert str(error) == "RETR x: 550 No such file (expected 150)"
    temporary = ReplyError.from_reply(Reply(421, ("bye",)), expected=(2,))
    assert isinstance(temporary, TemporaryError)
    assert "expected 2xx" in str(temporary)
    login = LoginError(Reply(530, ("nope",)), expected=(230,), command="PASS hunter2")
    assert login.command == "PASS ****" and "hunter2" not in str(login)
    odd = ReplyError.from_reply(Reply(331, ("?",)))
    assert type(odd) is ReplyError


def test_data_connection_error_says_where() -> None:
    error = DataConnectionError(
        "cannot connect",
        mode="PASV",
        address="10.0.0.5",
        port=30001,
        os_error=ConnectionRefusedError(111, "Connection refused"),
    )
    assert str(error) == "cannot connect (mode PASV; 10.0.0.5 port 30001; Connection refused)"
    assert isinstance(error.os_error, ConnectionRefusedError)


# -- URLs and passwords ---------------------------------------------------------------------


def test_parse_url() -> None:
    target = parse_url("ftp://us%40er:p%3Ass%20w@Example.COM:2121/dir/f%C3%BCr%20x.txt")
    assert (target.user, target.password) == ("us@er", "p:ss w")
    assert (target.host, target.port, target.path) == ("example.com", 2121, "dir/für x.txt")
    assert not target.tls and "p:ss" not in target.url()

    explicit = parse_url("ftps://h/")
    assert (explicit.tls, explicit.implicit_tls, explicit.port) == (True, False, 21)
    implicit = parse_url("ftps://h:990/")
    assert (implicit.tls, implicit.implicit_tls) == (True, True)
    forced = parse_url("ftps://h", implicit_tls=True)
    assert (forced.port, forced.implicit_tls) == (990, True)
    # No query or fragment in FTP URLs: "?" and "#" belong to the name (a pattern's "?").
    assert parse_url("ftp://h/logs/day-?.gz").path == "logs/day-?.gz"
    assert parse_url("ftp://h/a?b?c#d").path == "a?b?c#d"
    assert parse_url("ftp://h/odd?").path == "odd?"
    assert parse_url("ftp://h/%3F%23").path == "?#"
    six = parse_url("ftp://[::1]:21/;type=i")
    assert (six.host, six.path, six.user) == ("::1", "", None)
    for bad in ("http://h/", "ftp:///path", "ftp://h:99999/"):
        with pytest.raises(ValueError):
            parse_url(bad)


def test_password_sources_in_order(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine ftp.example.com login alice password from-netrc\n")
    netrc.chmod(0o600)
    env = {"FTPFERRY_PASSWORD": "from-env"}

    def resolve(**kwargs: object) -> tuple[str, str | None, str]:
        found = resolve_password("ftp.example.com", "alice", **kwargs)  # type: ignore[arg-type]
        return found.user, found.password, found.source

    everything = {"url_password": "from-url", "environ": env, "netrc_file": netrc}
    assert resolve(argument="arg", **everything) == ("alice", "arg", "argument")
    assert resolve(**everything) == ("alice", "from-url", "url")
    assert resolve(environ=env, netrc_file=netrc) == ("alice", "from-env", "env")
    assert resolve(environ={}, netrc_file=netrc) == ("alice", "from-netrc", "netrc")
    assert resolve(environ={}, netrc_file=netrc, use_netrc=False) == ("alice", None, "none")
    prompted = resolve(environ={}, netrc_file=tmp_path / "missing", prompt=lambda _: "typed")
    assert prompted == ("alice", "typed", "prompt")

    other_user = resolve_password("ftp.example.com", "bob", environ={}, netrc_file=netrc)
    assert other_user.password is None  # the netrc entry is alice's
    no_user = resolve_password("ftp.example.com", None, environ={}, netrc_file=netrc)
    assert (no_user.user, no_user.password) == ("alice", "from-netrc")
    anonymous = resolve_password("elsewhere", None, environ={}, netrc_file=netrc)
    assert (anonymous.user, anonymous.source) == ("anonymous", "anonymous")


def test_broken_netrc_is_ignored(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text('machine "unterminated')
    found = resolve_password("h", "u", environ={}, netrc_file=netrc)
    assert found.password is None


# -- settings -------------------------------------------------------------------------------


def test_options_match_config_fields() -> None:
    fields = {field.name for field in dataclasses.fields(ClientConfig)}
    assert set(ClientOptions.__annotations__) == fields


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "sideways"},
        {"active_ports": (2000, 1000)},
        {"active_ports": (80, 90)},
        {"active_address": "not an ip"},
        {"timeout": 0},
        {"keepalive": -1},
        {"encoding": "no-such-codec"},
        {"list_options": "-a\r\nDELE x"},
    ],
)
def test_invalid_config(bad: dict[str, object]) -> None:
    with pytest.raises((ValueError, LookupError)):
        ClientConfig(**bad)  # type: ignore[arg-type]


def test_port_range() -> None:
    assert parse_port_range("40000-40100") == (40000, 40100)
    with pytest.raises(ValueError):
        parse_port_range("40000")


def test_tls_context() -> None:
    import ssl

    assert ClientConfig().tls_context().verify_mode == ssl.CERT_REQUIRED
    relaxed = ClientConfig(verify=False).tls_context()
    assert relaxed.verify_mode == ssl.CERT_NONE and not relaxed.check_hostname
    own = ssl.create_default_context()
    assert ClientConfig(ssl_context=own).tls_context() is own


# -- ASCII codecs ----------------------------------------------------------------------------


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")), st.lists(st.integers(0, 400)))
def test_ascii_round_trip_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    wire = b""
    previous = False
    for chunk in _chunks(data, cuts):
        converted, previous = ascii_encode(chunk, previous)
        wire += converted
    assert wire == data.replace(b"\n", b"\r\n")
    decoder = AsciiDecoder()
    back = b"".join(decoder.feed(chunk) for chunk in _chunks(wire, cuts)) + decoder.flush()
    assert back == data


def test_ascii_keeps_existing_crlf_and_lone_cr() -> None:
    assert ascii_encode(b"a\r\nb\n", False) == (b"a\r\nb\r\n", False)
    assert ascii_encode(b"\nx", True) == (b"\nx", False)  # completes the CR sent before
    decoder = AsciiDecoder()
    assert decoder.feed(b"a\r") == b"a"
    assert decoder.feed(b"b") == b"\rb"
    assert decoder.feed(b"c\r") == b"c"
    assert decoder.flush() == b"\r"


# -- modes ----------------------------------------------------------------------------------


def test_mode_memory() -> None:
    forget_modes()
    assert remembered_mode("Host", 21) is None
    assert remember_mode("Host", 21, "active") is None
    assert remembered_mode("host", 21) == "active"
    assert remember_mode("host", 21, "passive") == "active"
    assert remembered_mode("host", 2121) is None
    forget_modes()
    assert remembered_mode("host", 21) is None


@pytest.mark.parametrize(
    ("announced", "peer", "trust", "host", "replaced"),
    [
        ("10.0.0.5", "203.0.113.7", False, "203.0.113.7", True),
        ("10.0.0.5", "203.0.113.7", True, "10.0.0.5", False),
        ("0.0.0.0", "192.0.2.1", False, "192.0.2.1", True),
        ("192.168.1.5", "192.168.1.5", False, "192.168.1.5", False),
        ("8.8.8.8", "203.0.113.7", False, "8.8.8.8", False),  # another public address: trusted
        ("127.0.0.1", "::ffff:127.0.0.1", False, "127.0.0.1", False),
        ("172.17.0.2", "::1", False, "::1", True),
    ],
)
def test_pasv_connect_host(
    announced: str, peer: str, trust: bool, host: str, replaced: bool
) -> None:
    chosen, reason = pasv_connect_host(announced, peer, trust=trust)
    assert chosen == host
    assert (reason is not None) == replaced


# -- times ---------------------------------------------------------------------------------


def _slow_mdtm(text: str) -> datetime.datetime | None:
    """The general way: epoch seconds, then a datetime."""
    try:
        return datetime.datetime.fromtimestamp(parse_mdtm(text.strip()), datetime.UTC)
    except ValueError:
        return None


@given(
    st.text(alphabet="0123456789", min_size=14, max_size=14)
    | st.datetimes(
        min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(9999, 12, 30)
    ).map(lambda when: when.strftime("%Y%m%d%H%M%S"))
    | st.sampled_from(["20240229235960", "20231231235961", "20230229120000", "2024013112000"])
)
def test_mdtm_fast_path_agrees_with_the_general_one(text: str) -> None:
    """Plain 14-digit times are built directly; the result is the general parser's,
    leap seconds and impossible dates included."""
    assert mdtm_to_datetime(text) == _slow_mdtm(text)


def test_mdtm_to_datetime() -> None:
    assert mdtm_to_datetime(" 20240102030405 ") == datetime.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC
    )
    assert mdtm_to_datetime("20240102030405.25") == datetime.datetime(
        2024, 1, 2, 3, 4, 5, 250000, tzinfo=datetime.UTC
    )
    assert mdtm_to_datetime("20241302030405") is None  # month 13
    fullwidth = "".join(chr(0xFF10 + int(digit)) for digit in "20240102030405")
    assert mdtm_to_datetime(fullwidth) is None  # digits, but not ASCII ones
