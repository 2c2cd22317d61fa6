"""Reply serialization (RFC 959 4.2), sanitizing and 257 path quoting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.protocol import Reply, ReplyCode, quote_path, sanitize


def test_single_line() -> None:
    assert Reply.of(ReplyCode.OK, "Command okay.").to_bytes() == b"200 Command okay.\r\n"


def test_no_text() -> None:
    assert Reply.of(226).to_bytes() == b"226 \r\n"
    assert Reply(226).to_bytes() == b"226 \r\n"


def test_multi_line_features() -> None:
    reply = Reply.of(ReplyCode.SYSTEM_STATUS, "Features:", "EPRT", "End")
    assert reply.to_bytes() == b"211-Features:\r\n EPRT\r\n211 End\r\n"


def test_two_lines_have_no_middle() -> None:
    assert Reply.of(214, "Help:", "Done.").to_bytes() == b"214-Help:\r\n214 Done.\r\n"


def test_continuation_that_looks_like_an_end_line_is_indented() -> None:
    reply = Reply.of(211, "Status:", "211 forged end", "000 x", "End")
    assert reply.to_bytes() == b"211-Status:\r\n 211 forged end\r\n 000 x\r\n211 End\r\n"


def test_crlf_injection_is_neutralized() -> None:
    reply = Reply.of(550, "/x\r\n230 Logged in as root")
    assert reply.to_bytes() == b"550 /x  230 Logged in as root\r\n"


def test_bare_cr_lf_and_nul_become_spaces() -> None:
    assert Reply.of(250, "a\rb\nc\x00d").to_bytes() == b"250 a b c d\r\n"


def test_utf8_text() -> None:
    assert Reply.of(257, '"/Größe" created.').to_bytes() == '257 "/Größe" created.\r\n'.encode()


def test_undecodable_surrogates_are_replaced() -> None:
    # A file name with invalid UTF-8 arrives as lone surrogates (surrogateescape).
    assert Reply.of(550, "/a\udcffb: no such file").to_bytes() == b"550 /a?b: no such file\r\n"


@pytest.mark.parametrize("code", [0, 99, 600, 1000, -200])
def test_code_out_of_range(code: int) -> None:
    with pytest.raises(ValueError, match="not in 100-599"):
        Reply(code)


def test_empty_lines_tuple_refused() -> None:
    with pytest.raises(ValueError, match="at least one line"):
        Reply(200, ())


def test_of_accepts_reply_codes() -> None:
    reply = Reply.of(ReplyCode.NOT_LOGGED_IN, "Please log in.")
    assert reply.code == 530
    assert type(reply.code) is int
    assert reply.lines == ("Please log in.",)


@pytest.mark.parametrize(
    ("code", "positive"), [(150, True), (226, True), (350, True), (421, False), (550, False)]
)
def test_is_positive(code: int, positive: bool) -> None:
    assert Reply.of(code).is_positive is positive


def test_reply_code_values() -> None:
    assert ReplyCode(227) is ReplyCode.ENTERING_PASSIVE
    assert ReplyCode(229) is ReplyCode.ENTERING_EXTENDED_PASSIVE
    assert ReplyCode(257) is ReplyCode.PATH_CREATED
    assert ReplyCode(350) is ReplyCode.PENDING_FURTHER_INFO
    assert ReplyCode(522) is ReplyCode.NETWORK_PROTOCOL_NOT_SUPPORTED
    assert ReplyCode(553) is ReplyCode.BAD_FILE_NAME


def test_sanitize_leaves_clean_text_alone() -> None:
    assert sanitize("plain text 123") == "plain text 123"
    assert sanitize("tab\tand é") == "tab\tand é"
    assert sanitize("") == ""


def test_sanitize() -> None:
    assert sanitize("a\r\nb") == "a  b"
    assert sanitize("nul\x00") == "nul "
    assert sanitize("\udc80x\ud800") == "?x?"


def test_quote_path() -> None:
    assert quote_path("/") == '"/"'
    assert quote_path("/dir") == '"/dir"'
    assert quote_path('/say "hi"') == '"/say ""hi"""'
    assert quote_path('/"') == '"/"""'


def test_quote_path_sanitizes() -> None:
    assert quote_path("/a\r\n257 x") == '"/a  257 x"'


def test_quote_path_in_a_reply() -> None:
    quoted = quote_path('/a"b')
    reply = Reply.of(ReplyCode.PATH_CREATED, f"{quoted} is the current directory.")
    assert reply.to_bytes() == b'257 "/a""b" is the current directory.\r\n'


# -- properties ----------------------------------------------------------------------

_text = st.lists(
    st.one_of(
        st.text(max_size=5),
        st.sampled_from(["\r", "\n", "\r\n", "\x00", "\udcff", "\x85", "\u2028"]),
    ),
    max_size=10,
).map("".join)


@settings(max_examples=300)
@given(code=st.integers(100, 599), lines=st.lists(_text, min_size=1, max_size=6))
def test_no_cr_or_lf_except_line_ends(code: int, lines: list[str]) -> None:
    wire = Reply(code, tuple(lines)).to_bytes()
    assert wire.endswith(b"\r\n")
    parts = wire.split(b"\r\n")
    assert parts[-1] == b""
    sent = parts[:-1]
    assert len(sent) == len(lines)
    for part in sent:
        assert b"\r" not in part
        assert b"\n" not in part
        part.decode("utf-8")  # always valid UTF-8
    prefix = str(code).encode()
    assert sent[-1].startswith(prefix + b" ")
    if len(sent) > 1:
        assert sent[0].startswith(prefix + b"-")
        assert all(middle.startswith(b" ") for middle in sent[1:-1])


@settings(max_examples=200)
@given(text=_text)
def test_sanitize_output_is_one_encodable_line(text: str) -> None:
    cleaned = sanitize(text)
    assert "\r" not in cleaned
    assert "\n" not in cleaned
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")
    assert len(cleaned) <= len(text) * 3  # never blows up


@settings(max_examples=200)
@given(path=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00")))
def test_quote_path_round_trips(path: str) -> None:
    quoted = quote_path(path)
    assert quoted.startswith('"')
    assert quoted.endswith('"')
    assert quoted[1:-1].replace('""', '"') == path
