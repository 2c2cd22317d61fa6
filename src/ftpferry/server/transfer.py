"""Moving bytes over a data connection, with as little Python as possible.

* RETR in binary mode calls ``os.sendfile`` on the raw socket: the kernel
  copies file pages to the socket, 64 KiB per call (see
  :data:`ftpferry.netio.SENDFILE_CHUNK`), and no byte passes through Python.
* STOR in binary mode ``splice``s socket -> pipe -> file on Linux, again
  without the bytes entering Python; where splice is unavailable it falls
  back to ``recv_into`` a reused buffer and ``write``.
* ASCII mode (TYPE A) converts line ends in Python, as it must: LF -> CRLF on
  the way out, CRLF -> LF on the way in, keeping state across chunk borders.
* Block mode (MODE B, see :mod:`ftpferry.protocol.blocks`) frames the same
  bytes in blocks of at most 64 KiB: a RETR sends each block's header with
  ``MSG_MORE`` and its data with ``sendfile``, still without the data
  entering Python; a STOR parses the headers in Python and writes the data
  slices with one ``writev`` per read.

Each function updates a :class:`Progress` so STAT can report a running
transfer, and yields to the event loop after every chunk so one fast
transfer never starves the other sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from ftpferry.netio import (
    SpliceUnavailable,
    regular_file_descriptor,
    sendfile_range,
    splice_to_file,
    tls_recv_into,
    tls_sendall,
    wait_writable,
    write_all,
    write_pieces,
)
from ftpferry.protocol.ascii import AsciiDecoder, ascii_encode
from ftpferry.protocol.blocks import (
    MAX_BLOCK,
    BlockDecoder,
    BlockModeError,
    block_header,
    encode_blocks,
)

__all__ = [
    "Progress",
    "receive_blocks_to_file",
    "receive_to_file",
    "send_bytes",
    "send_file",
]

RECV_CHUNK: Final = 1024 * 1024
BLOCK_FIRST_READ: Final = 64 * 1024


@dataclass(slots=True)
class Progress:
    """A running transfer, as STAT and the transfer log see it."""

    path: str
    direction: str  # "RETR", "STOR", "LIST" ...
    mode: str  # PASV, EPSV, PORT or EPRT
    started: float = field(default_factory=time.monotonic)
    bytes: int = 0

    @property
    def seconds(self) -> float:
        """Time since the transfer started."""
        return time.monotonic() - self.started

    def add(self, count: int) -> None:
        """``count`` more bytes moved (a callback for :func:`ftpferry.netio.sendfile_range`)."""
        self.bytes += count


async def send_file(
    sock: socket.socket,
    file: BinaryIO,
    offset: int,
    progress: Progress,
    *,
    size: int | None = None,
    ascii_mode: bool = False,
    blocks: bool = False,
) -> None:
    """RETR: send ``file`` from ``offset`` over ``sock``, as TYPE and MODE say.

    Binary transfers over plain TCP go with ``sendfile``: the bytes never
    enter Python.  Everything else (TLS, which must encrypt in user space;
    ASCII, which converts line ends; a storage file that is not a regular file)
    takes one read-and-send loop.  ``size``, the file's size when the
    transfer began, spares a small file the second ``sendfile`` (and the
    trip through the event loop before it) that would only find the end;
    block mode's sendfile path needs it for its headers.
    """
    if ascii_mode or isinstance(sock, ssl.SSLSocket) or not regular_file_descriptor(file):
        await _send_read_chunks(sock, file, offset, progress, ascii_mode=ascii_mode, blocks=blocks)
    elif blocks:
        await _sendfile_blocks(sock, file, offset, progress, size=size)
    else:
        await _sendfile(sock, file, offset, progress, size=size)


async def _sendfile(
    sock: socket.socket, file: BinaryIO, offset: int, progress: Progress, *, size: int | None
) -> None:
    remaining = None if size is None else size - offset
    await sendfile_range(sock.fileno(), file.fileno(), offset, remaining, progress.add)


async def _send_read_chunks(
    sock: socket.socket,
    file: BinaryIO,
    offset: int,
    progress: Progress,
    *,
    ascii_mode: bool,
    blocks: bool,
) -> None:
    """Read, convert (ASCII), frame (block mode) and send, to the file's end as it is now.

    In block mode each chunk read becomes one or more blocks and an empty
    block marked EOF ends the file: headers are written after their data is
    read, so, unlike the sendfile path, nothing is promised that a file
    changing meanwhile could break.
    """
    file.seek(offset)
    previous_was_cr = False
    while chunk := file.read(RECV_CHUNK):
        if ascii_mode:
            chunk, previous_was_cr = ascii_encode(chunk, previous_was_cr)
        if blocks:
            await _send_framed(sock, encode_blocks(chunk, eof=False), len(chunk), progress)
        else:
            await send_bytes(sock, chunk, progress)
    if blocks:
        await _send_framed(sock, block_header(0, eof=True), 0, progress)


async def send_bytes(sock: socket.socket, data: bytes, progress: Progress) -> None:
    """Send a block of bytes (listings, ASCII-converted file chunks)."""
    if isinstance(sock, ssl.SSLSocket):
        await tls_sendall(sock, data)
    else:
        await asyncio.get_running_loop().sock_sendall(sock, data)
    progress.bytes += len(data)


async def _send_framed(
    sock: socket.socket, framed: bytes, data_bytes: int, progress: Progress
) -> None:
    """Send block-framed bytes, counting only the file data they carry."""
    await send_bytes(sock, framed, progress)
    progress.bytes -= len(framed) - data_bytes


async def send_payload(
    sock: socket.socket, payload: bytes, progress: Progress, *, blocks: bool = False
) -> None:
    """Send a whole payload (a listing), framed as one file in block mode."""
    if blocks:
        await _send_framed(sock, encode_blocks(payload), len(payload), progress)
    else:
        await send_bytes(sock, payload, progress)


async def _sendfile_blocks(
    sock: socket.socket, file: BinaryIO, offset: int, progress: Progress, *, size: int | None
) -> None:
    """Block mode with ``sendfile``: each header, then its block's bytes from the file.

    A header promises its block's length before the data is sent, so the
    transfer goes to ``size`` (the file's size when it began; stat'ed here
    if not given), and a file that shrinks meanwhile cannot keep the
    promise: the transfer fails (``OSError``), which closes the data
    connection instead of leaving the client waiting for bytes.
    """
    in_fd, out_fd = file.fileno(), sock.fileno()
    if size is None:
        size = os.fstat(in_fd).st_size
    while True:
        count = min(size - offset, MAX_BLOCK)
        header = block_header(count, eof=offset + count >= size)
        if not count:  # an empty file: no data would push a corked header out
            await _send_framed(sock, header, 0, progress)
            return
        await _send_all_more(sock, header)
        sent = await sendfile_range(out_fd, in_fd, offset, count, progress.add)
        if sent < count:
            raise OSError(f"the file shrank: {count - sent} bytes of a block missing")
        offset += sent
        if offset >= size:
            return


async def _send_all_more(sock: socket.socket, data: bytes) -> None:
    """Send a block header, telling the kernel its data follows (``MSG_MORE``):
    header and data then leave in one segment."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view, socket.MSG_MORE) :]
        except BlockingIOError:
            await wait_writable(sock.fileno())


async def receive_to_file(
    sock: socket.socket, file: BinaryIO, progress: Progress, *, ascii_mode: bool = False
) -> None:
    """Receive until the peer closes, writing to ``file`` (STOR/APPE/STOU)."""
    tls = isinstance(sock, ssl.SSLSocket)
    if not ascii_mode and not tls:
        with contextlib.suppress(SpliceUnavailable):
            await _splice_to_file(sock, file, progress)
            return
    decoder = AsciiDecoder() if ascii_mode else None
    buffer = bytearray(RECV_CHUNK if not ascii_mode else 256 * 1024)
    view = memoryview(buffer)
    while True:
        count = await _recv_into(sock, buffer)
        if count == 0:
            break
        progress.bytes += count
        data = view[:count] if decoder is None else decoder.feed(bytes(view[:count]))
        write_all(file, data)
    if decoder is not None:
        write_all(file, decoder.flush())


async def receive_blocks_to_file(
    sock: socket.socket, file: BinaryIO, progress: Progress, *, ascii_mode: bool = False
) -> None:
    """Receive one file in block mode (STOR/APPE/STOU after MODE B), up to its EOF block.

    The connection stays open for the next transfer; a connection closed
    before the EOF block is a broken transfer (``ConnectionResetError``).
    """
    decoder = BlockDecoder()
    text = AsciiDecoder() if ascii_mode else None
    # Small first: most block-mode uploads are small files, and a fresh
    # megabyte costs page faults each time.  A full read means a big file.
    buffer = bytearray(BLOCK_FIRST_READ)
    while not decoder.done:
        count = await _recv_into(sock, buffer)
        if count == 0:
            raise ConnectionResetError("the data connection closed before the end-of-file block")
        try:
            pieces = decoder.feed(memoryview(buffer)[:count])
        except BlockModeError as exc:  # the client's fault: a broken transfer, not ours
            raise ConnectionAbortedError(errno.ECONNABORTED, f"not block mode: {exc}") from exc
        progress.bytes += sum(len(piece) for piece in pieces)
        if text is not None:
            write_all(file, text.feed(b"".join(pieces)))
        else:
            write_pieces(file, pieces)
        if count == len(buffer) < RECV_CHUNK:
            buffer = bytearray(RECV_CHUNK)
    if text is not None:
        write_all(file, text.flush())


async def _recv_into(sock: socket.socket, buffer: bytearray) -> int:
    if isinstance(sock, ssl.SSLSocket):
        return await tls_recv_into(sock, buffer)
    return await asyncio.get_running_loop().sock_recv_into(sock, buffer)


async def _splice_to_file(sock: socket.socket, file: BinaryIO, progress: Progress) -> None:
    try:
        out_fd = file.fileno()
    except (AttributeError, OSError, ValueError) as exc:
        raise SpliceUnavailable from exc

    def count(moved: int) -> None:
        progress.bytes += moved

    await splice_to_file(sock.fileno(), out_fd, count)
