"""Moving bytes over an open data connection, and what a transfer reports.

* Binary downloads ``recv_into`` one reused 1 MiB buffer and write it out:
  one system call each way per megabyte, no new objects per chunk.
* Binary uploads from a real file use ``loop.sock_sendfile`` on plain TCP,
  so the kernel copies file pages to the socket (zero-copy); TLS data and
  in-memory streams read 1 MiB chunks and send them.
* ASCII mode (TYPE A) converts line ends as the server does: local LF
  becomes CRLF on the wire, and CRLF from the wire becomes LF, keeping
  state across chunk borders.
* Block mode (MODE B, see :mod:`ftpferry.protocol.blocks`): downloads read
  until the end-of-file block and write the data between the headers with
  one ``writev`` per read; uploads send headers and data together, through
  the same chunked loop as TLS and ASCII.  The connection stays open for the
  next transfer.

After every chunk a :class:`Ticker` counts the bytes, calls the progress
callback and, every ``keepalive`` seconds, writes a NOOP on the control
connection so that NAT boxes and firewalls do not drop it during a long
transfer.  Checking per chunk instead of from a timer task means a NOOP
is only sent while data flows, which is exactly when the control
connection is otherwise silent; the replies are read after the transfer's
own reply (see ``AsyncFTPClient``).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final

from ftpferry.netio import (
    DataSocketError,
    SpliceUnavailable,
    regular_file_descriptor,
    splice_to_file,
    write_all,
    write_pieces,
)
from ftpferry.protocol.ascii import AsciiDecoder, ascii_encode
from ftpferry.protocol.blocks import (
    HEADER_SIZE,
    MAX_BLOCK,
    BlockDecoder,
    BlockModeError,
    encode_blocks,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

from .datachannel import BlockFramingBroken, DataConnection, DataConnectionBroken, DataRoute
from .errors import FTPTimeout
from .replies import Reply

__all__ = [
    "ProgressCallback",
    "Ticker",
    "TransferResult",
    "receive_all",
    "receive_to_file",
    "send_from_file",
]

CHUNK: Final = 1024 * 1024
SPLICE_FROM: Final = 1024 * 1024
"""Files known to be smaller go through ``recv_into``: for them a pipe's set-up
(``pipe2``, growing it to 1 MiB, two closes) costs more than the copy saves."""
UPLOAD_STRETCH: Final = 16 * 1024 * 1024
"""Bytes per :meth:`DataConnection.sendfile` (itself 64 KiB per system call):
progress is reported, and the stalled-transfer timeout starts again, after each."""
BLOCK_SEND_CHUNK: Final = 16 * MAX_BLOCK
LISTING_CHUNK: Final = 256 * 1024

ProgressCallback = Callable[[int, "int | None"], object]
"""``progress(done, total)``: bytes of the file now transferred (including a
resumed offset) and its total size when known.  Called after every chunk,
from the event loop's thread; it should return quickly."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferResult:
    """What one download, upload or listing did.

    Attributes:
        remote: the remote path.
        direction: ``download``, ``upload`` or ``listing``.
        transferred: bytes moved over the data connection this time.
        offset: where the transfer started (REST/APPE resume), 0 otherwise.
        seconds: from the transfer command to its final reply.
        route: how the data connection was made (mode, command, address, TLS).
        keepalives: NOOPs sent on the control connection during the transfer.
        reply: the server's final reply (226 or 250).
        skipped: True when nothing had to be moved (already complete).
    """

    remote: str
    direction: str
    transferred: int
    offset: int
    seconds: float
    route: DataRoute | None
    keepalives: int
    reply: Reply | None
    skipped: bool = False

    @property
    def rate(self) -> float:
        """Bytes per second (0 for an instant transfer)."""
        return self.transferred / self.seconds if self.seconds > 0 else 0.0


class Ticker:
    """Per-chunk bookkeeping: bytes, progress callback, keep-alive NOOPs."""

    __slots__ = (
        "_interval",
        "_last_noop",
        "_progress",
        "_send_noop",
        "moved",
        "noops",
        "offset",
        "total",
    )

    def __init__(
        self,
        *,
        offset: int,
        total: int | None,
        progress: ProgressCallback | None,
        keepalive: float,
        send_noop: Callable[[], None],
    ) -> None:
        self.offset = offset
        self.total = total
        self.moved = 0
        self.noops = 0
        self._progress = progress
        self._interval = keepalive
        self._send_noop = send_noop
        self._last_noop = time.monotonic()

    def __call__(self, count: int) -> None:
        """Account for ``count`` more bytes."""
        self.moved += count
        if self._progress is not None:
            self._progress(self.offset + self.moved, self.total)
        if self._interval:
            now = time.monotonic()
            if now - self._last_noop >= self._interval:
                self._last_noop = now
                self._send_noop()
                self.noops += 1


async def receive_to_file(
    connection: DataConnection,
    file: BinaryIO,
    ticker: Ticker,
    *,
    ascii_mode: bool,
    splice: bool = False,
) -> None:
    """Receive until the server closes the data connection, writing to ``file``.

    ``splice=True`` allows moving the bytes socket -> pipe -> file inside
    the kernel; pass it only for an unbuffered file the client opened
    itself, whose position is the descriptor's.
    """
    if connection.blocks:
        await _receive_blocks(connection, file, ticker, ascii_mode=ascii_mode)
        return
    small = ticker.total is not None and ticker.total - ticker.offset < SPLICE_FROM
    if splice and not small and not ascii_mode and connection.zero_copy and hasattr(os, "splice"):
        with contextlib.suppress(SpliceUnavailable):
            await _splice_to_file(connection, file.fileno(), ticker)
            return
    buffer = bytearray(_buffer_size(ticker))
    view = memoryview(buffer)
    decoder = AsciiDecoder() if ascii_mode else None
    while True:
        count = await connection.recv_into(buffer)
        if count == 0:
            break
        if decoder is None:
            write_all(file, view[:count])
        else:
            write_all(file, decoder.feed(bytes(view[:count])))
        ticker(count)
    if decoder is not None:
        write_all(file, decoder.flush())


async def _receive_blocks(
    connection: DataConnection,
    file: BinaryIO,
    ticker: Ticker,
    *,
    ascii_mode: bool,
    buffer_size: int | None = None,
) -> None:
    """Receive one file in block mode, up to its end-of-file block."""
    decoder = BlockDecoder()
    # By default room for a small file, its headers and its end-of-file block in one read.
    buffer = bytearray(buffer_size or _buffer_size(ticker) + 2 * HEADER_SIZE)
    view = memoryview(buffer)
    text = AsciiDecoder() if ascii_mode else None
    while not decoder.done:
        count = await connection.recv_into(buffer)
        if count == 0:
            error = ConnectionResetError("the data connection closed before the end of the file")
            raise BlockFramingBroken(error)
        try:
            pieces = decoder.feed(view[:count])
        except BlockModeError as exc:
            raise BlockFramingBroken(ConnectionResetError(str(exc))) from exc
        if text is not None:
            write_all(file, text.feed(b"".join(pieces)))
        elif pieces:
            write_pieces(file, pieces)
        ticker(sum(len(piece) for piece in pieces))
    if text is not None:
        write_all(file, text.flush())


def _buffer_size(ticker: Ticker) -> int:
    """A buffer the whole file fits in with a byte to spare for the EOF read,
    up to :data:`CHUNK`: a mirror of small files must not zero a megabyte each."""
    if ticker.total is None:
        return CHUNK
    return max(4096, min(CHUNK, ticker.total - ticker.offset + 1))


async def _splice_to_file(connection: DataConnection, out_fd: int, ticker: Ticker) -> None:
    try:
        await splice_to_file(connection.fileno(), out_fd, ticker, idle_timeout=connection.timeout)
    except TimeoutError as exc:
        raise FTPTimeout(f"no data for {connection.timeout}s") from exc
    except DataSocketError as exc:
        raise DataConnectionBroken(exc) from exc


async def receive_all(connection: DataConnection, ticker: Ticker, *, limit: int) -> bytes:
    """Everything the server sends (a listing); OverflowError past ``limit`` bytes."""
    sink = _LimitedBuffer(limit)
    if connection.blocks:
        await _receive_blocks(connection, sink, ticker, ascii_mode=False, buffer_size=LISTING_CHUNK)
        return sink.getvalue()
    buffer = bytearray(LISTING_CHUNK)
    view = memoryview(buffer)
    while count := await connection.recv_into(buffer):
        sink.write(view[:count])
        ticker(count)
    return sink.getvalue()


class _LimitedBuffer(io.BytesIO):
    """A BytesIO that refuses to grow past ``limit`` bytes (OverflowError)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: ReadableBuffer, /) -> int:
        if self.tell() + memoryview(data).nbytes > self._limit:
            raise OverflowError(self._limit)
        return super().write(data)


async def send_from_file(
    connection: DataConnection, file: BinaryIO, ticker: Ticker, *, ascii_mode: bool
) -> None:
    """Send ``file`` from its current position to its end.

    Binary uploads of a real file over plain TCP in stream mode use
    ``sendfile``; everything else (TLS, in-memory streams, ASCII, block mode)
    reads chunks and sends them, framed as blocks in block mode, the last
    one marked end of file (a file read one chunk ahead, so an empty one is
    a single empty end-of-file block).  Block mode's bytes go through Python:
    it is for many small files, where that is cheaper than a connection each.
    """
    blocks = connection.blocks
    if not blocks and not ascii_mode and connection.zero_copy and regular_file_descriptor(file):
        offset = file.tell()
        while True:
            sent = await connection.sendfile(file, offset, UPLOAD_STRETCH)
            if sent == 0:
                break
            offset += sent
            ticker(sent)
        file.seek(offset)
        return
    size = BLOCK_SEND_CHUNK if blocks else CHUNK
    previous_was_cr = False
    chunk = file.read(size)
    while True:
        following = file.read(size) if chunk else b""
        data = chunk
        if ascii_mode:
            data, previous_was_cr = ascii_encode(chunk, previous_was_cr)
        if blocks:
            data = encode_blocks(data, eof=not following)
        if data:
            await connection.sendall(data)
        if chunk:
            ticker(len(chunk))
        if not following:
            return
        chunk = following
