"""MODE B on the wire: one data connection carries many transfers (RFC 959 3.3).

A bare control connection (:class:`RawClient`) and a bare data socket
drive a real ``ftpferry serve``, so the replies (``125`` on a kept
connection, ``250`` instead of ``226``) and the block framing are checked
byte for byte, including what a broken or hostile transfer does.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator

import pytest

from ftpferry.protocol.blocks import BlockDecoder, block_header, encode_blocks
from tests.conftest import RawClient, ServerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[RawClient]:
    """A logged-in raw client in binary block mode, with files to fetch."""
    (server.root / "a.bin").write_bytes(b"A" * 5000)
    (server.root / "b.bin").write_bytes(os.urandom(200_000))  # four blocks
    (server.root / "empty.bin").write_bytes(b"")
    with RawClient(server.host, server.port) as raw:
        raw.login()
        assert raw.command("TYPE I")[0] == 200
        assert raw.command("MODE B") == (200, "MODE set to B.")
        yield raw


def open_epsv(client: RawClient) -> socket.socket:
    code, text = client.command("EPSV")
    assert code == 229, text
    match = re.search(r"\|\|\|(\d+)\|", text)
    assert match is not None
    return socket.create_connection((client.sock.getpeername()[0], int(match.group(1))), TIMEOUT)


def receive_file(data: socket.socket) -> bytes:
    """One file's blocks, up to and including its end-of-file block."""
    decoder = BlockDecoder()
    out = bytearray()
    while not decoder.done:
        chunk = data.recv(65536)
        assert chunk, "the server closed the data connection before the end-of-file block"
        for piece in decoder.feed(chunk):
            out += piece
    return bytes(out)


def still_open(data: socket.socket) -> bool:
    """True when the server neither closed the connection nor sent anything more."""
    data.settimeout(0.2)
    try:
        data.recv(1)  # end of file or stray bytes: either way not a kept connection
    except TimeoutError:
        return True
    finally:
        data.settimeout(TIMEOUT)
    return False


def retr(client: RawClient, data: socket.socket, name: str) -> tuple[int, bytes, int]:
    """RETR over the block-mode connection: (first code, contents, final code)."""
    first, text = client.command(f"RETR {name}")
    assert first in {125, 150}, text
    contents = receive_file(data)
    return first, contents, client.read_reply()[0]


def test_mode_replies(client: RawClient) -> None:
    assert client.command("MODE C") == (504, "MODE C is not supported.")
    assert client.command("MODE X")[0] == 501
    assert client.command("MODE S") == (200, "MODE set to S.")


def test_one_data_connection_carries_every_transfer(
    client: RawClient, server: ServerProcess
) -> None:
    data = open_epsv(client)
    assert retr(client, data, "a.bin") == (150, b"A" * 5000, 250)
    assert still_open(data)
    expected = (server.root / "b.bin").read_bytes()
    assert retr(client, data, "b.bin") == (125, expected, 250)
    assert retr(client, data, "empty.bin") == (125, b"", 250)
    code, _ = client.command("MLSD")
    assert code == 125
    names = {line.split("; ", 1)[1] for line in receive_file(data).decode().splitlines()}
    assert {"a.bin", "b.bin", "empty.bin"} <= names
    assert client.read_reply()[0] == 250
    assert still_open(data)


def test_store_in_blocks_then_fetch_back(client: RawClient, server: ServerProcess) -> None:
    data = open_epsv(client)
    payload = os.urandom(150_000)
    assert client.command("STOR up.bin")[0] == 150
    data.sendall(encode_blocks(payload))
    assert client.read_reply() == (250, "Transfer complete; data connection open.")
    assert (server.root / "up.bin").read_bytes() == payload
    assert retr(client, data, "up.bin") == (125, payload, 250)


def test_rest_resumes_at_a_byte_offset(client: RawClient) -> None:
    data = open_epsv(client)
    assert client.command("REST 4990")[0] == 350
    assert retr(client, data, "a.bin") == (150, b"A" * 10, 250)


def test_a_refused_transfer_leaves_the_connection_usable(client: RawClient) -> None:
    data = open_epsv(client)
    assert retr(client, data, "a.bin")[0] == 150
    assert client.command("RETR missing.bin")[0] == 550
    assert retr(client, data, "a.bin") == (125, b"A" * 5000, 250)


@pytest.mark.parametrize("command", ["MODE S", "MODE B", "ABOR", "EPSV"])
def test_commands_that_close_the_kept_connection(client: RawClient, command: str) -> None:
    data = open_epsv(client)
    assert retr(client, data, "a.bin")[0] == 150
    code, _ = client.command(command)
    assert code in {200, 225, 226, 229}
    data.settimeout(TIMEOUT)
    assert data.recv(1) == b"", f"{command} left the kept data connection open"


def test_without_a_kept_connection_a_transfer_needs_epsv_again(client: RawClient) -> None:
    data = open_epsv(client)
    assert retr(client, data, "a.bin")[0] == 150
    assert client.command("MODE B")[0] == 200  # closes it
    code, text = client.command("RETR a.bin")
    assert code == 425, text


def test_a_kept_connection_the_client_closed_is_not_used(client: RawClient) -> None:
    data = open_epsv(client)
    assert retr(client, data, "a.bin")[0] == 150
    data.close()
    code, text = client.command("RETR a.bin")
    assert code == 425, text  # not 125 and then 426 over a dead connection
    data = open_epsv(client)
    assert retr(client, data, "a.bin") == (150, b"A" * 5000, 250)


def test_upload_cut_before_the_end_of_file_block(client: RawClient, server: ServerProcess) -> None:
    data = open_epsv(client)
    assert client.command("STOR cut.bin")[0] == 150
    data.sendall(block_header(1000) + b"x" * 1000)  # no end-of-file block
    data.close()
    code, text = client.read_reply()
    assert code == 426, text
    assert client.command("NOOP")[0] == 200
    assert client.command("RETR a.bin")[0] == 425  # nothing kept after a failure


def test_upload_with_a_broken_header_fails_and_the_session_goes_on(
    client: RawClient, server: ServerProcess
) -> None:
    data = open_epsv(client)
    assert client.command("STOR bad.bin")[0] == 150
    data.sendall(b"\x01\x00\x05hello")
    code, _ = client.read_reply()
    assert code == 426  # a broken transfer, not a server error (451)
    assert "not block mode: unknown block descriptor 0x01" in server.log()
    data.settimeout(TIMEOUT)
    assert data.recv(1) == b""
    assert client.command("NOOP")[0] == 200


def test_active_mode_connection_is_kept_too(client: RawClient) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    with listener:
        port = listener.getsockname()[1]
        assert client.command(f"EPRT |1|127.0.0.1|{port}|")[0] == 200
        assert client.command("RETR a.bin")[0] == 150
        data, _ = listener.accept()
    with data:
        assert receive_file(data) == b"A" * 5000
        assert client.read_reply()[0] == 250
        assert retr(client, data, "a.bin") == (125, b"A" * 5000, 250)


def test_stream_mode_is_unchanged_after_mode_s(client: RawClient) -> None:
    assert client.command("MODE S")[0] == 200
    data = open_epsv(client)
    assert client.command("RETR a.bin")[0] == 150
    contents = bytearray()
    while chunk := data.recv(65536):
        contents += chunk
    assert bytes(contents) == b"A" * 5000
    assert client.read_reply()[0] == 226
