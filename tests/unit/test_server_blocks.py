"""The server's block-mode sender over a real loopback TCP connection.

A header goes out with ``MSG_MORE`` so that it leaves in one segment with
the data after it.  With no data after it (an empty file) the kernel would
hold it back until its cork timer ran out (200 ms): on loopback the bytes
are in the peer's queue as soon as the send returns, so that is checked.
"""

from __future__ import annotations

import asyncio
import io
import os
import select
import socket
import tempfile
from collections.abc import Iterator

import pytest

from ftpferry.protocol.blocks import BlockDecoder
from ftpferry.server.transfer import Progress, send_file


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    server.setblocking(False)
    with client, server:
        yield server, client


def send(server: socket.socket, contents: bytes, *, ascii_mode: bool = False) -> Progress:
    progress = Progress(path="/f", direction="RETR", mode="EPSV")
    with tempfile.TemporaryFile() as file:
        file.write(contents)
        file.flush()
        asyncio.run(
            send_file(
                server, file, 0, progress, size=len(contents), ascii_mode=ascii_mode, blocks=True
            )
        )
    return progress


def receive(client: socket.socket) -> bytes:
    decoder = BlockDecoder()
    received = io.BytesIO()
    client.settimeout(10)
    while not decoder.done:
        for piece in decoder.feed(client.recv(1 << 20)):
            received.write(piece)
    return received.getvalue()


def waiting_now(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 200_000])
def test_a_file_arrives_whole_and_at_once(
    tcp_pair: tuple[socket.socket, socket.socket], size: int
) -> None:
    server, client = tcp_pair
    contents = os.urandom(size)
    progress = send(server, contents)
    assert progress.bytes == size  # file bytes, not headers
    assert waiting_now(client), "the last block was held back (corked)"
    assert receive(client) == contents


@pytest.mark.parametrize("lines", [0, 1, 5_000])
def test_ascii_mode_blocks_carry_crlf_lines_and_end_with_eof(
    tcp_pair: tuple[socket.socket, socket.socket], lines: int
) -> None:
    """The read-and-send path (ASCII here, TLS alike): blocks framed after each read."""
    server, client = tcp_pair
    contents = b"".join(b"line %d of the file\n" % n for n in range(lines))
    progress = send(server, contents, ascii_mode=True)
    expected = contents.replace(b"\n", b"\r\n")
    assert progress.bytes == len(expected)
    assert receive(client) == expected
