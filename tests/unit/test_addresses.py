"""PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428) codecs."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.protocol import (
    AddressSyntaxError,
    HostPort,
    UnsupportedNetworkProtocol,
    format_eprt,
    format_epsv_reply,
    format_pasv_reply,
    format_port,
    parse_eprt,
    parse_epsv_reply,
    parse_pasv_reply,
    parse_port,
)


def hp(host: str, port: int) -> HostPort:
    return HostPort(ip_address(host), port)


# -- PORT and PASV -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("192,168,1,2,4,1", hp("192.168.1.2", 1025)),
        ("127,0,0,1,0,21", hp("127.0.0.1", 21)),
        ("0,0,0,0,0,0", hp("0.0.0.0", 0)),
        ("255,255,255,255,255,255", hp("255.255.255.255", 65535)),
        (" 10, 0,0 ,1,200,7 ", hp("10.0.0.1", 51207)),
        ("010,001,000,001,000,021", hp("10.1.0.1", 21)),
    ],
)
def test_parse_port(argument: str, expected: HostPort) -> None:
    assert parse_port(argument) == expected


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "1,2,3,4,5",
        "1,2,3,4,5,6,7",
        "256,0,0,1,0,21",
        "1,2,3,4,5,256",
        "1,2,3,4,0,1000",
        "a,b,c,d,e,f",
        "1,2,3,4,5,-6",
        "1,2,3,4,,6",
        "1,2,3,4,5,6.0",
        "1.2.3.4,5,6",
        "1,2,3,4,5,+6",
        "\u0661,2,3,4,5,6",  # ARABIC-INDIC DIGIT ONE
        "1,2,3,4,5,\uff16",  # FULLWIDTH DIGIT SIX
    ],
)
def test_parse_port_refuses(argument: str) -> None:
    with pytest.raises(AddressSyntaxError):
        parse_port(argument)


def test_format_port() -> None:
    assert format_port(hp("10.0.0.1", 1025)) == "10,0,0,1,4,1"
    assert format_port(hp("192.168.255.0", 65535)) == "192,168,255,0,255,255"
    assert format_port(hp("1.2.3.4", 0)) == "1,2,3,4,0,0"


def test_format_port_refuses_ipv6() -> None:
    with pytest.raises(UnsupportedNetworkProtocol):
        format_port(hp("::1", 21))


def test_format_pasv_reply() -> None:
    assert format_pasv_reply(hp("10.0.0.1", 50000)) == "Entering Passive Mode (10,0,0,1,195,80)."


@pytest.mark.parametrize(
    "text",
    [
        "Entering Passive Mode (10,0,0,1,195,80).",
        "227 Entering Passive Mode (10,0,0,1,195,80)",
        "Entering Passive Mode 10,0,0,1,195,80",
        "=10,0,0,1,195,80",
    ],
)
def test_parse_pasv_reply(text: str) -> None:
    assert parse_pasv_reply(text) == hp("10.0.0.1", 50000)


@pytest.mark.parametrize(
    "text",
    ["Entering Passive Mode", "(10,0,0,1,195)", "(300,0,0,1,195,80)", "(10,0,0,1,195,999)"],
)
def test_parse_pasv_reply_refuses(text: str) -> None:
    with pytest.raises(AddressSyntaxError):
        parse_pasv_reply(text)


# -- EPRT and EPSV -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        # The examples of RFC 2428 section 2.
        ("|1|132.235.1.2|6275|", hp("132.235.1.2", 6275)),
        ("|2|1080::8:800:200C:417A|5282|", hp("1080::8:800:200c:417a", 5282)),
        ("!1!10.0.0.1!21!", hp("10.0.0.1", 21)),
        ("~2~::1~65535~", hp("::1", 65535)),
        ("|2|::ffff:10.0.0.1|1|", hp("::ffff:10.0.0.1", 1)),
    ],
)
def test_parse_eprt(argument: str, expected: HostPort) -> None:
    assert parse_eprt(argument) == expected


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "|1|1.2.3|",
        "|1|1.2.3.4|21",  # no closing delimiter
        "|1|1.2.3.4|21|x|",
        "1112131415161",  # a digit as delimiter
        " 1 1.2.3.4 21 ",  # space as delimiter
        "\x001\x001.2.3.4\x0021\x00",
        "|1|1.2.3.4|0|",
        "|1|1.2.3.4|65536|",
        "|1|1.2.3.4|123456|",
        "|1|1.2.3.4|-21|",
        "|1|1.2.3.4|port|",
        "|1|1.2.3.4|\u00b2|",  # SUPERSCRIPT TWO: isdigit() but not a number
        "|1|1.2.3.4|\u0662\u0661|",  # ARABIC-INDIC digits
        "|1|1.2.3.4| 21|",
        "|1|::1|21|",  # family 1 with an IPv6 address
        "|2|1.2.3.4|21|",  # family 2 with an IPv4 address
        "|1|localhost|21|",
        "|1|01.2.3.4|21|",
        "|1|1.2.3.256|21|",
    ],
)
def test_parse_eprt_refuses(argument: str) -> None:
    with pytest.raises(AddressSyntaxError):
        parse_eprt(argument)


@pytest.mark.parametrize("argument", ["|3|1.2.3.4|21|", "|6|::1|21|", "|x|1.2.3.4|21|"])
def test_parse_eprt_unknown_family(argument: str) -> None:
    with pytest.raises(UnsupportedNetworkProtocol):
        parse_eprt(argument)


def test_format_eprt() -> None:
    assert format_eprt(hp("132.235.1.2", 6275)) == "|1|132.235.1.2|6275|"
    assert format_eprt(hp("1080::8:800:200C:417A", 5282)) == "|2|1080::8:800:200c:417a|5282|"


def test_format_epsv_reply() -> None:
    assert format_epsv_reply(6446) == "Entering Extended Passive Mode (|||6446|)"


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("Entering Extended Passive Mode (|||6446|)", 6446),
        ("229 Entering Extended Passive Mode (|||6446|).", 6446),
        ("(!!!1!)", 1),
        ("ok (###65535#)", 65535),
    ],
)
def test_parse_epsv_reply(text: str, port: int) -> None:
    assert parse_epsv_reply(text) == port


@pytest.mark.parametrize(
    "text",
    [
        "Entering Extended Passive Mode",
        "(|||0|)",
        "(|||65536|)",
        "(||6446|)",
        "(|!|6446|)",
        "(|||6446!)",
        "(|||port|)",
        "(|||\u0661\u0662|)",
    ],
)
def test_parse_epsv_reply_refuses(text: str) -> None:
    with pytest.raises(AddressSyntaxError):
        parse_epsv_reply(text)


@pytest.mark.parametrize("port", [-1, 65536])
def test_host_port_range(port: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        HostPort(IPv4Address("1.2.3.4"), port)


# -- properties ----------------------------------------------------------------------

_ports = st.integers(0, 65535)
_nonzero_ports = st.integers(1, 65535)
_v4 = st.ip_addresses(v=4)
_any_ip = st.ip_addresses()


@settings(max_examples=200)
@given(host=_v4, port=_ports)
def test_port_round_trip(host: IPv4Address, port: int) -> None:
    address = HostPort(host, port)
    assert parse_port(format_port(address)) == address


@settings(max_examples=200)
@given(host=_v4, port=_ports)
def test_pasv_round_trip(host: IPv4Address, port: int) -> None:
    address = HostPort(host, port)
    assert parse_pasv_reply(format_pasv_reply(address)) == address
    assert parse_pasv_reply(f"227 {format_pasv_reply(address)}") == address


@settings(max_examples=200)
@given(host=_any_ip, port=_nonzero_ports)
def test_eprt_round_trip(host: IPv4Address | IPv6Address, port: int) -> None:
    address = HostPort(host, port)
    assert parse_eprt(format_eprt(address)) == address


@settings(max_examples=200)
@given(host=_any_ip, port=_nonzero_ports, delimiter=st.sampled_from("!#$%&'()*+,-/;<=>?@[]^_`{}~"))
def test_eprt_any_delimiter(host: IPv4Address | IPv6Address, port: int, delimiter: str) -> None:
    argument = format_eprt(HostPort(host, port)).replace("|", delimiter)
    assert parse_eprt(argument) == HostPort(host, port)


@settings(max_examples=200)
@given(port=_nonzero_ports)
def test_epsv_round_trip(port: int) -> None:
    assert parse_epsv_reply(format_epsv_reply(port)) == port
    assert parse_epsv_reply(f"229 {format_epsv_reply(port)}") == port


_garbage = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="|!0123456789.,:abcdef ()\u00b2\u0661", max_size=40),
)


@settings(max_examples=300)
@given(text=_garbage)
def test_parsers_raise_only_their_own_errors(text: str) -> None:
    for parse in (parse_port, parse_eprt, parse_pasv_reply, parse_epsv_reply):
        try:
            parse(text)
        except (AddressSyntaxError, UnsupportedNetworkProtocol):
            pass
