"""Block mode (``MODE B``, RFC 959 3.4.2): framing data so a data connection can stay open.

Why block mode
--------------
In stream mode (``MODE S``, every client's default) the end of a file is
the end of its data connection, so each file costs a new connection:
EPSV, a listening socket, connect, accept and two closes.  RFC 959 3.3
("Reuse of the Data Connection") names the remedy: in block mode each
chunk carries a header and the last one says "end of file", so the data
connection can carry the next file too.  A mirror of many small files
then costs one command and its replies per file.

The format
----------
Every block is a 3-byte header, then ``count`` bytes::

    +-------------+-----------------------+
    | descriptor  |  byte count (16 bits) |
    +-------------+-----------------------+

``descriptor`` bits: 128 end of record, 64 end of file, 32 suspected
errors, 16 restart marker.  A block of at most 65,535 bytes; a file ends
with the block whose descriptor has the EOF bit (it may hold data, or
none).  Restart-marker blocks carry a marker, not file data, and are
skipped here; ftpferry's REST offsets in block mode are byte offsets.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = [
    "EOF",
    "HEADER_SIZE",
    "MAX_BLOCK",
    "BlockDecoder",
    "BlockModeError",
    "block_header",
    "encode_blocks",
]

EOR: Final = 0x80
EOF: Final = 0x40
SUSPECT: Final = 0x20
RESTART_MARKER: Final = 0x10
HEADER_SIZE: Final = 3
MAX_BLOCK: Final = 0xFFFF

_HEADER: Final = struct.Struct(">BH")


class BlockModeError(ValueError):
    """The peer broke the block format (bad header, data after the end of file)."""


def block_header(count: int, *, eof: bool = False) -> bytes:
    """The header of a block of ``count`` bytes (``eof``: the file's last block)."""
    if not 0 <= count <= MAX_BLOCK:
        raise ValueError(f"a block holds 0 to {MAX_BLOCK} bytes, not {count}")
    return _HEADER.pack(EOF if eof else 0, count)


def encode_blocks(payload: bytes | memoryview, *, eof: bool = True) -> bytes:
    """``payload`` as blocks, the last one marked end of file when ``eof``.

    An empty payload with ``eof`` is one empty EOF block (an empty file).
    """
    view = memoryview(payload)
    parts: list[bytes | memoryview] = []
    start = 0
    while True:
        end = min(start + MAX_BLOCK, len(view))
        last = end == len(view)
        parts.append(block_header(end - start, eof=eof and last))
        parts.append(view[start:end])
        start = end
        if last:
            return b"".join(parts)


class BlockDecoder:
    """Turns the bytes of one block-mode transfer back into the file's data.

    :meth:`feed` takes what one ``recv`` returned and gives the data in
    it, as slices of that buffer (no copy); :attr:`done` turns True at the
    EOF block.  Bytes after it are an error: the server sends nothing
    more before the next command, and taking them as the next file's
    would silently corrupt it.
    """

    __slots__ = ("_eof_pending", "_header", "_remaining", "_skip", "done")

    def __init__(self) -> None:
        self._header = bytearray()
        self._remaining = 0
        self._skip = False
        self._eof_pending = False
        self.done = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """The file data in ``data`` (possibly none); see the class docstring."""
        view = memoryview(data)
        pieces: list[memoryview] = []
        position = 0
        size = len(view)
        while position < size:
            if self.done:
                raise BlockModeError(f"{size - position} bytes after the end-of-file block")
            if self._remaining:
                take = min(self._remaining, size - position)
                if not self._skip:
                    pieces.append(view[position : position + take])
                position += take
                self._remaining -= take
                if not self._remaining:
                    self._end_block()
                continue
            take = min(HEADER_SIZE - len(self._header), size - position)
            self._header += view[position : position + take]
            position += take
            if len(self._header) == HEADER_SIZE:
                self._start_block()
        return pieces

    def _start_block(self) -> None:
        descriptor, count = _HEADER.unpack(self._header)
        self._header.clear()
        if descriptor & ~(EOR | EOF | SUSPECT | RESTART_MARKER):
            raise BlockModeError(f"unknown block descriptor {descriptor:#04x}")
        self._skip = bool(descriptor & RESTART_MARKER)
        self._eof_pending = bool(descriptor & EOF)
        self._remaining = count
        if not count:
            self._end_block()

    def _end_block(self) -> None:
        if self._eof_pending:
            self.done = True
