"""LineReader: line splitting, Telnet escapes, bounds, and chunking independence."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.protocol import (
    MAX_DISCARD,
    MAX_LINE,
    NEED_DATA,
    EndOfStream,
    LineReader,
    LineReceived,
    LineTooLong,
    StreamCorrupt,
)
from ftpferry.protocol.framing import FramingEvent

# After draining, the reader holds at most one partial line of MAX_LINE + 1
# bytes (the last may be the CR of a CRLF split across reads) and the first
# two bytes of an IAC WILL/WONT/DO/DONT sequence.
MAX_BUFFERED = MAX_LINE + 3


def drain(reader: LineReader) -> list[FramingEvent]:
    """Every event the reader can produce now, up to NEED_DATA or the end."""
    events: list[FramingEvent] = []
    while True:
        event = reader.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, EndOfStream | StreamCorrupt):
            return events


def feed(chunks: list[bytes], *, eof: bool = True) -> list[FramingEvent]:
    """Feed chunks one by one, draining after each, and return all events."""
    reader = LineReader()
    events: list[FramingEvent] = []
    for chunk in chunks:
        if not chunk:
            continue
        reader.receive_data(chunk)
        events.extend(drain(reader))
        assert reader.buffered <= MAX_BUFFERED
        if events and isinstance(events[-1], StreamCorrupt):
            return events
    if eof:
        reader.receive_data(b"")
        events.extend(drain(reader))
    return events


def lines(data: bytes) -> list[str]:
    """The texts of the LineReceived events for data fed in one piece."""
    return [event.text for event in feed([data]) if isinstance(event, LineReceived)]


# -- plain line splitting ------------------------------------------------------------


def test_crlf_lines() -> None:
    assert feed([b"USER alice\r\nPASS secret\r\n"]) == [
        LineReceived(text="USER alice"),
        LineReceived(text="PASS secret"),
        EndOfStream(),
    ]


def test_bare_lf_is_a_line_end() -> None:
    assert lines(b"NOOP\nSYST\r\nPWD\n") == ["NOOP", "SYST", "PWD"]


def test_need_data_until_line_end() -> None:
    reader = LineReader()
    reader.receive_data(b"NO")
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"OP\r")
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"\n")
    assert reader.next_event() == LineReceived(text="NOOP")
    assert reader.next_event() is NEED_DATA
    assert reader.buffered == 0


def test_crlf_split_across_reads() -> None:
    assert feed([b"CWD dir\r", b"\nPWD\r", b"\n"]) == [
        LineReceived(text="CWD dir"),
        LineReceived(text="PWD"),
        EndOfStream(),
    ]


def test_empty_lines_are_reported() -> None:
    assert lines(b"\r\n\n") == ["", ""]


def test_trailing_spaces_are_kept() -> None:
    assert lines(b"STOR name with space \r\n") == ["STOR name with space "]


def test_partial_line_at_end_of_stream_is_dropped() -> None:
    assert feed([b"NOOP\r\nQUI"]) == [LineReceived(text="NOOP"), EndOfStream()]


def test_end_of_stream_repeats() -> None:
    reader = LineReader()
    reader.receive_data(b"")
    assert reader.next_event() == EndOfStream()
    assert reader.next_event() == EndOfStream()


def test_lines_before_end_of_stream_come_first() -> None:
    reader = LineReader()
    reader.receive_data(b"NOOP\r\n")
    reader.receive_data(b"")
    assert reader.next_event() == LineReceived(text="NOOP")
    assert reader.next_event() == EndOfStream()


def test_utf8_is_decoded() -> None:
    assert lines("CWD Größe/日本\r\n".encode()) == ["CWD Größe/日本"]


def test_invalid_utf8_is_kept_as_surrogates() -> None:
    (text,) = lines(b"RETR a\xfeb\r\n")
    assert text == "RETR a\udcfeb"
    assert text.encode("utf-8", "surrogateescape") == b"RETR a\xfeb"


def test_stray_cr_never_reaches_the_text() -> None:
    """A CR that does not end the line is removed (RFC 2640's CR NUL keeps its NUL)."""
    assert lines(b"DELE a\rb\r\n") == ["DELE ab"]
    assert lines(b"DELE a\r\r\n") == ["DELE a"]
    assert lines(b"DELE a\r\x00b\r\n") == ["DELE a\x00b"]
    assert lines(b"\r\r\r\n") == [""]


# -- Telnet escapes ------------------------------------------------------------------


def test_abort_synch_sequence_is_stripped() -> None:
    # ftplib sends ABOR as IAC IP IAC DM "ABOR\r\n" (the DM as urgent data).
    assert lines(b"\xff\xf4\xff\xf2ABOR\r\n") == ["ABOR"]


def test_escaped_iac_is_a_literal_0xff() -> None:
    (text,) = lines(b"RETR \xff\xff.bin\r\n")
    assert text.encode("utf-8", "surrogateescape") == b"RETR \xff.bin"


def test_option_negotiation_is_stripped() -> None:
    # IAC WILL 1, IAC DO 3, IAC WONT 24, IAC DONT 31
    data = b"\xff\xfb\x01NO\xff\xfd\x03OP\xff\xfc\x18\xff\xfe\x1f\r\n"
    assert lines(data) == ["NOOP"]


def test_iac_sequences_split_across_reads() -> None:
    data = b"A\xff\xfb\x01B\xff\xffC\xff\xf4D\r\n"
    expected = "AB\udcffCD"
    for cut in range(1, len(data)):
        events = feed([data[:cut], data[cut:]])
        assert events == [LineReceived(text=expected), EndOfStream()], cut


def test_iac_crlf_is_not_swallowed() -> None:
    # IAC followed by CR is a (meaningless) two-byte command; the LF still ends the line.
    assert lines(b"NOOP\xff\r\nPWD\r\n") == ["NOOP", "PWD"]


# -- bounds --------------------------------------------------------------------------


def test_line_of_exactly_max_line_is_accepted() -> None:
    line = b"X" * MAX_LINE
    assert lines(line + b"\r\n") == ["X" * MAX_LINE]
    assert lines(line + b"\n") == ["X" * MAX_LINE]
    byte_by_byte = feed([bytes([b]) for b in line + b"\r\n"])
    assert byte_by_byte == [LineReceived(text="X" * MAX_LINE), EndOfStream()]


def test_line_one_byte_too_long() -> None:
    data = b"X" * (MAX_LINE + 1) + b"\r\nNOOP\r\n"
    expected = [LineTooLong(length=MAX_LINE + 1), LineReceived(text="NOOP"), EndOfStream()]
    assert feed([data]) == expected
    assert feed([bytes([b]) for b in data]) == expected


def test_long_line_is_reported_once_and_discarded() -> None:
    data = b"STOR " + b"a" * 20_000 + b"\r\nPWD\r\n"
    expected = [LineTooLong(length=MAX_LINE + 1), LineReceived(text="PWD"), EndOfStream()]
    assert feed([data]) == expected
    assert feed([data[i : i + 1000] for i in range(0, len(data), 1000)]) == expected


def test_long_line_is_reported_before_its_end_arrives() -> None:
    reader = LineReader()
    reader.receive_data(b"a" * (MAX_LINE + 1))
    assert reader.next_event() is NEED_DATA  # the next byte could be the LF of a CRLF
    reader.receive_data(b"a")
    assert reader.next_event() == LineTooLong(length=MAX_LINE + 1)
    assert reader.next_event() is NEED_DATA
    reader.receive_data(b"b" * 10_000)
    assert reader.next_event() is NEED_DATA
    assert reader.buffered == 0
    reader.receive_data(b"tail\r\nNOOP\r\n")
    assert reader.next_event() == LineReceived(text="NOOP")


def test_most_buffered() -> None:
    reader = LineReader()
    reader.receive_data(b"a" * (MAX_LINE + 1) + b"\xff\xfb")
    assert reader.next_event() is NEED_DATA
    assert reader.buffered == MAX_BUFFERED
    reader.receive_data(b"\x01\n")
    assert reader.next_event() == LineTooLong(length=MAX_LINE + 1)
    assert reader.buffered == 0


def test_endless_line_corrupts_the_stream() -> None:
    reader = LineReader()
    events: list[FramingEvent] = []
    chunks = 0
    while chunks < 200 and not (events and isinstance(events[-1], StreamCorrupt)):
        reader.receive_data(b"z" * 1024)
        chunks += 1
        events.extend(drain(reader))
        assert reader.buffered <= MAX_BUFFERED
    assert chunks == MAX_DISCARD // 1024 + 1
    assert events == [LineTooLong(length=MAX_LINE + 1), StreamCorrupt(discarded=MAX_DISCARD + 1)]


def test_stream_corrupt_is_final() -> None:
    reader = LineReader()
    reader.receive_data(b"z" * (MAX_DISCARD + 10))
    assert drain(reader) == [
        LineTooLong(length=MAX_LINE + 1),
        StreamCorrupt(discarded=MAX_DISCARD + 1),
    ]
    reader.receive_data(b"\r\nNOOP\r\n")
    assert reader.next_event() == StreamCorrupt(discarded=MAX_DISCARD + 1)
    assert reader.buffered == 0


def test_long_line_that_ends_within_discard_limit_is_not_corrupt() -> None:
    # MAX_DISCARD bytes then LF: the line ended just in time.
    data = b"q" * MAX_DISCARD + b"\nNOOP\n"
    expected = [LineTooLong(length=MAX_LINE + 1), LineReceived(text="NOOP"), EndOfStream()]
    assert feed([data]) == expected
    assert feed([data[: MAX_LINE + 2], data[MAX_LINE + 2 :]]) == expected


def test_line_over_discard_limit_is_corrupt_even_when_its_end_arrives_at_once() -> None:
    data = b"q" * (MAX_DISCARD + 1) + b"\nNOOP\n"
    expected = [LineTooLong(length=MAX_LINE + 1), StreamCorrupt(discarded=MAX_DISCARD + 1)]
    assert feed([data]) == expected
    assert feed([data[i : i + 7000] for i in range(0, len(data), 7000)]) == expected


def test_partial_long_line_at_end_of_stream() -> None:
    assert feed([b"x" * (MAX_LINE + 100)]) == [
        LineTooLong(length=MAX_LINE + 1),
        EndOfStream(),
    ]


def test_iac_bytes_do_not_count_towards_the_limit() -> None:
    # Stripped escapes are not part of the line.
    data = b"\xff\xf1" * MAX_LINE + b"X" * MAX_LINE + b"\r\n"
    assert lines(data) == ["X" * MAX_LINE]


# -- properties ----------------------------------------------------------------------

# Bytes that exercise every branch: line ends, CR, IAC and its commands, text.
_interesting = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b"\xff", b"\xff\xff", b"\xfb", b"\xf4", b"\x00", b"a", b"\xe2\x82"]
)
_runs = st.builds(
    lambda byte, count: byte * count, st.sampled_from([b"a", b"\r", b"\n"]), st.integers(1, 6000)
)
_streams = st.lists(st.one_of(st.binary(max_size=40), _interesting, _runs), max_size=30).map(
    b"".join
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(data=_streams, cuts=st.lists(st.integers(0, 20_000), max_size=12))
def test_chunking_never_changes_the_events(data: bytes, cuts: list[int]) -> None:
    whole = feed([data])
    assert feed(_split(data, cuts)) == whole
    for event in whole:
        if isinstance(event, LineReceived):
            assert "\r" not in event.text
            assert "\n" not in event.text
            assert len(event.text.encode("utf-8", "surrogateescape")) <= MAX_LINE
    assert isinstance(whole[-1], EndOfStream | StreamCorrupt)


@settings(max_examples=40, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), _streams.filter(lambda d: len(d) < 12_000)))
def test_byte_at_a_time_equals_whole(data: bytes) -> None:
    assert feed([bytes([b]) for b in data]) == feed([data])


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n")),
        max_size=8,
    )
)
def test_lines_round_trip(texts: list[str]) -> None:
    # UTF-8 never contains 0xFF, so no Telnet escaping is needed.
    data = b"".join(text.encode() + b"\r\n" for text in texts)
    assert lines(data) == texts


def test_a_shared_receive_buffer_is_copied_before_the_next_read_reuses_it() -> None:
    # The server reads every connection into one buffer and hands the reader a
    # memoryview of it; the next read overwrites that buffer.
    shared = bytearray(64)
    view = memoryview(shared)
    reader = LineReader()
    # An IAC IP sequence split across reads too: the reader must keep a copy.
    for chunk in (b"USER al", b"ice\r\nNO", b"OP\r\n\xff", b"\xf4\xff\xf2ABOR\r\n"):
        shared[: len(chunk)] = chunk
        reader.receive_data(view[: len(chunk)])
        shared[:] = b"\x00" * len(shared)  # the next connection's read
    reader.receive_data(b"")
    texts = [event.text for event in drain(reader) if isinstance(event, LineReceived)]
    assert texts == ["USER alice", "NOOP", "ABOR"]
