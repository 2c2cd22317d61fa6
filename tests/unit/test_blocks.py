"""The block-mode (MODE B) codec: bytes in, file data out, split anywhere."""

from __future__ import annotations

import itertools
import random

import pytest

from ftpferry.protocol.blocks import (
    EOF,
    MAX_BLOCK,
    RESTART_MARKER,
    BlockDecoder,
    BlockModeError,
    block_header,
    encode_blocks,
)


def decode(data: bytes, *, cuts: list[int] | None = None) -> tuple[bytes, bool]:
    """Feed ``data`` in pieces cut at ``cuts``; returns (file data, done)."""
    decoder = BlockDecoder()
    edges = [0, *(cuts or []), len(data)]
    out = bytearray()
    for start, end in itertools.pairwise(edges):
        for piece in decoder.feed(data[start:end]):
            out += piece
    return bytes(out), decoder.done


def test_header_is_descriptor_then_big_endian_count() -> None:
    assert block_header(0x1234) == b"\x00\x12\x34"
    assert block_header(0, eof=True) == bytes([EOF, 0, 0])


@pytest.mark.parametrize("count", [-1, MAX_BLOCK + 1])
def test_header_refuses_impossible_counts(count: int) -> None:
    with pytest.raises(ValueError, match="block holds"):
        block_header(count)


def test_small_payload_is_one_eof_block() -> None:
    assert encode_blocks(b"abc") == bytes([EOF, 0, 3]) + b"abc"


def test_empty_payload_is_an_empty_eof_block() -> None:
    assert encode_blocks(b"") == bytes([EOF, 0, 0])
    assert decode(encode_blocks(b"")) == (b"", True)


def test_large_payload_splits_at_the_block_limit() -> None:
    payload = bytes(range(256)) * 600  # 153,600 bytes: three blocks
    framed = encode_blocks(payload)
    assert framed[:3] == block_header(MAX_BLOCK)
    assert framed[3 + MAX_BLOCK : 6 + MAX_BLOCK] == block_header(MAX_BLOCK)
    assert framed[6 + 2 * MAX_BLOCK : 9 + 2 * MAX_BLOCK] == block_header(
        len(payload) - 2 * MAX_BLOCK, eof=True
    )
    assert decode(framed) == (payload, True)


def test_without_eof_the_decoder_waits_for_more() -> None:
    framed = encode_blocks(b"x" * 10, eof=False)
    assert decode(framed) == (b"x" * 10, False)
    assert decode(framed + block_header(0, eof=True)) == (b"x" * 10, True)


def test_any_split_of_the_stream_gives_the_same_file() -> None:
    rng = random.Random(7)
    payload = rng.randbytes(3 * MAX_BLOCK + 17)
    framed = encode_blocks(payload)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(framed)), rng.randint(1, 40)))
        assert decode(framed, cuts=cuts) == (payload, True)
    every_byte = list(range(1, 200))  # headers split byte by byte too
    assert decode(encode_blocks(payload[:150]), cuts=every_byte[:152]) == (payload[:150], True)


def test_restart_markers_are_not_file_data() -> None:
    marker = bytes([RESTART_MARKER, 0, 4]) + b"1234"
    framed = block_header(3) + b"abc" + marker + encode_blocks(b"def")
    assert decode(framed) == (b"abcdef", True)


def test_bytes_after_the_end_of_file_are_an_error() -> None:
    decoder = BlockDecoder()
    with pytest.raises(BlockModeError, match="after the end-of-file block"):
        decoder.feed(encode_blocks(b"abc") + b"\x00")


def test_unknown_descriptor_bits_are_an_error() -> None:
    with pytest.raises(BlockModeError, match="unknown block descriptor 0x01"):
        BlockDecoder().feed(b"\x01\x00\x00")


def test_pieces_are_views_of_the_buffer_not_copies() -> None:
    buffer = bytearray(encode_blocks(b"hello"))
    (piece,) = BlockDecoder().feed(memoryview(buffer))
    buffer[3] = ord("j")
    assert bytes(piece) == b"jello"
