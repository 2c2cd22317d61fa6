"""Control-channel framing: bytes from the client in, command lines out.

Theory of operation
-------------------
The control channel is a Telnet NVT stream (RFC 959 section 4, RFC 854).  We
need almost nothing of Telnet, but clients do send its escapes: ftplib's and
lftp's ABOR is prefixed with ``IAC IP IAC DM`` (the "Synch" sequence), and a
literal 0xFF in a UTF-8 path arrives doubled as ``IAC IAC``.  :class:`LineReader`
removes those escapes, splits the stream on CRLF (tolerating the bare LF that
sloppy clients send), and enforces two bounds so that a hostile peer cannot
make us buffer without limit:

* a line longer than :data:`MAX_LINE` bytes produces one :class:`LineTooLong`
  event (the session answers ``500``) and the rest of that line is discarded;
* a line that still has no end after :data:`MAX_DISCARD` bytes produces
  :class:`StreamCorrupt` (the session answers ``421`` and closes); the reader
  then stays corrupt and ignores further input.

Both decisions are taken on exact byte counts, never on how much happened to
be buffered, so the events are the same whether the peer's bytes arrive all
at once, one at a time or in any other chunks.  A CR that does not end a line
is removed: it has no meaning inside a command, and keeping it would put a
bare CR into file names and replies.

The reader is sans-IO: ``receive_data(b"...")`` feeds it, ``next_event()``
returns a :class:`LineReceived`, one of the two error events, :data:`NEED_DATA`
when it has no full line yet, or :class:`EndOfStream` after ``receive_data(b"")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "MAX_DISCARD",
    "MAX_LINE",
    "NEED_DATA",
    "EndOfStream",
    "FramingEvent",
    "LineReader",
    "LineReceived",
    "LineTooLong",
    "NeedData",
    "StreamCorrupt",
]

MAX_LINE: Final = 4096
MAX_DISCARD: Final = 64 * 1024

IAC: Final = 0xFF
_DONT_TO_WILL: Final = frozenset({0xFB, 0xFC, 0xFD, 0xFE})  # WILL WONT DO DONT


@dataclass(frozen=True, slots=True, kw_only=True)
class LineReceived:
    """One complete control line, without its line end, decoded as text.

    Undecodable bytes are kept as lone surrogates (``surrogateescape``) so that
    a path with invalid UTF-8 reaches the session intact and is refused there
    with a proper reply instead of being silently altered.
    """

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineTooLong:
    """A line passed :data:`MAX_LINE`; it is being discarded up to its end.

    The event fires as soon as the line provably has more than ``MAX_LINE``
    bytes, before the rest of it arrives, so ``length`` is the number of line
    bytes known at that moment: always ``MAX_LINE + 1``.
    """

    length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamCorrupt:
    """A line passed :data:`MAX_DISCARD` with no end in sight: close the session.

    ``discarded`` is the number of bytes of that line seen without a line end:
    always ``MAX_DISCARD + 1``.
    """

    discarded: int


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer closed its side of the control connection."""


class NeedData:
    """Sentinel type: the reader needs more bytes before it can return an event."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()

FramingEvent = LineReceived | LineTooLong | StreamCorrupt | EndOfStream | NeedData


class LineReader:
    """Split a Telnet-ish byte stream into control lines (see module docstring)."""

    __slots__ = ("_buffer", "_corrupt", "_discarding", "_eof", "_pending_iac", "_scan_from")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0  # no LF in _buffer before this index
        self._discarding = 0  # bytes of an over-long line thrown away so far; 0 = not discarding
        self._corrupt: StreamCorrupt | None = None  # set once, then returned forever
        self._eof = False
        self._pending_iac = b""  # an IAC sequence split across two receive_data calls

    @property
    def buffered(self) -> int:
        """Bytes held once drained: at most ``MAX_LINE + 3``.

        That is a partial line of ``MAX_LINE + 1`` bytes (its last may be the
        CR of a CRLF) plus an IAC sequence split across reads.
        """
        return len(self._buffer) + len(self._pending_iac)

    def receive_data(self, data: bytes | memoryview) -> None:
        """Feed bytes from the socket; ``b""`` means the peer closed the connection.

        A memoryview (of a receive buffer shared by many connections) is
        copied into this reader's own buffer before the call returns.  Taking
        it directly spares a temporary ``bytes`` per read, and those
        short-lived copies, interleaved with the sessions' long-lived objects,
        cost an idle session 0.7 KB of fragmented heap in the benchmark.
        """
        if not data:
            self._eof = True
            return
        if self._corrupt is not None:
            return
        if self._pending_iac:
            data = self._pending_iac + bytes(data)
            self._pending_iac = b""
        if IAC in data:
            data = self._strip_telnet(bytes(data))
        self._buffer += data

    def _strip_telnet(self, data: bytes) -> bytes:
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            byte = data[i]
            if byte != IAC:
                out.append(byte)
                i += 1
                continue
            if i + 1 >= n:
                self._pending_iac = data[i:]
                break
            command = data[i + 1]
            if command == IAC:  # escaped 0xFF data byte
                out.append(IAC)
                i += 2
            elif command in _DONT_TO_WILL:  # option negotiation: IAC WILL x
                if i + 2 >= n:
                    self._pending_iac = data[i:]
                    break
                i += 3
            else:  # IP, DM, AO, AYT, NOP ...: two-byte commands we ignore
                i += 2
        return bytes(out)

    def next_event(self) -> FramingEvent:
        """Return the next event, or :data:`NEED_DATA` when no full line is buffered."""
        if self._corrupt is not None:
            return self._corrupt
        if self._discarding and not self._discard_rest_of_line():
            return self._corrupt or self._starved()
        buffer = self._buffer
        # A line of MAX_LINE bytes may be followed by CR LF: look that far for
        # its end.  Without an LF in this window the line is too long for sure.
        window = MAX_LINE + 2
        end = buffer.find(b"\n", self._scan_from, window)
        if end < 0:
            if len(buffer) < window:
                self._scan_from = len(buffer)
                return self._starved()
            del buffer[:window]
            self._scan_from = 0
            self._discarding = window
            return LineTooLong(length=MAX_LINE + 1)
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        self._scan_from = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_LINE:  # exactly MAX_LINE + 1 bytes and an LF
            return LineTooLong(length=len(line))
        if b"\r" in line:
            line = line.replace(b"\r", b"")
        return LineReceived(text=line.decode("utf-8", "surrogateescape"))

    def _discard_rest_of_line(self) -> bool:
        """Drop the rest of an over-long line; True once its LF has been consumed.

        The line may have at most :data:`MAX_DISCARD` bytes before its LF;
        only that many are examined, so the outcome does not depend on how
        much of the stream happens to be buffered.
        """
        buffer = self._buffer
        budget = MAX_DISCARD + 1 - self._discarding
        end = buffer.find(b"\n", 0, budget)
        if end >= 0:
            del buffer[: end + 1]
            self._discarding = 0
            return True
        if len(buffer) >= budget:
            self._corrupt = StreamCorrupt(discarded=MAX_DISCARD + 1)
            self._pending_iac = b""
        else:
            self._discarding += len(buffer)
        buffer.clear()
        return False

    def _starved(self) -> FramingEvent:
        """No full line buffered: the end of the stream, or a wait for more bytes."""
        if self._eof:
            self._buffer.clear()
            self._pending_iac = b""
            self._scan_from = 0
            return EndOfStream()
        return NEED_DATA
