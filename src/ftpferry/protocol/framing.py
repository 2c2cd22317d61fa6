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
  :class:`StreamCorrupt` (the session answers ``421`` and closes).

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
    """A line passed :data:`MAX_LINE`; it is being discarded up to its end."""

    length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamCorrupt:
    """A line passed :data:`MAX_DISCARD` with no end in sight: close the session."""

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

    __slots__ = ("_buffer", "_discarding", "_eof", "_pending_iac", "_scan_from")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan_from = 0
        self._discarding = 0  # bytes of an over-long line thrown away so far; 0 = not discarding
        self._eof = False
        self._pending_iac = b""  # an IAC sequence split across two receive_data calls

    @property
    def buffered(self) -> int:
        """Bytes held in memory: never more than about :data:`MAX_LINE`."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the socket; ``b""`` means the peer closed the connection."""
        if not data:
            self._eof = True
            return
        if self._pending_iac:
            data = self._pending_iac + data
            self._pending_iac = b""
        if IAC in data:
            data = self._strip_telnet(data)
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
        buffer = self._buffer
        end = buffer.find(b"\n", self._scan_from)
        if end < 0:
            return self._no_line_end_yet()
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        self._scan_from = 0
        if self._discarding:
            self._discarding = 0
            return self.next_event()
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_LINE:
            return LineTooLong(length=len(line))
        return LineReceived(text=line.decode("utf-8", "surrogateescape"))

    def _no_line_end_yet(self) -> FramingEvent:
        buffer = self._buffer
        if self._discarding:
            self._discarding += len(buffer)
            buffer.clear()
            if self._discarding > MAX_DISCARD:
                return StreamCorrupt(discarded=self._discarding)
        elif len(buffer) > MAX_LINE + 1:  # +1: a lone CR of a CRLF split across reads
            self._discarding = len(buffer)
            buffer.clear()
            self._scan_from = 0
            return LineTooLong(length=self._discarding)
        self._scan_from = len(buffer)
        if self._eof:
            buffer.clear()
            return EndOfStream()
        return NEED_DATA
