"""TYPE A (ASCII) line-end conversion, for both directions of a transfer.

On the wire, TYPE A text ends its lines with CRLF (RFC 959 3.1.1.1); on a
Unix disk they end with LF.  The sender converts LF -> CRLF, the receiver
CRLF -> LF.  Both work on chunks of a stream, so each keeps the state of a
CR that ended the previous chunk, and neither doubles a CRLF already there.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["AsciiDecoder", "ascii_encode"]

_LONE_LF: Final = re.compile(rb"(?<!\r)\n")


def ascii_encode(chunk: bytes, previous_was_cr: bool) -> tuple[bytes, bool]:
    """LF -> CRLF for the sending side, leaving existing CRLF alone.

    ``previous_was_cr`` tells whether the last chunk ended with CR, so a
    CRLF split across two reads is not doubled.  Returns the converted
    chunk and the flag for the next call.
    """
    if not chunk:
        return chunk, previous_was_cr
    converted = _LONE_LF.sub(b"\r\n", chunk)
    if previous_was_cr and chunk[:1] == b"\n":
        converted = converted[1:]  # this LF completes the CRLF begun in the last chunk
    return converted, chunk.endswith(b"\r")


class AsciiDecoder:
    """CRLF -> LF for the receiving side, holding back a CR that ends a chunk."""

    __slots__ = ("_held_cr",)

    def __init__(self) -> None:
        self._held_cr = False

    def feed(self, chunk: bytes) -> bytes:
        """Convert one chunk; a trailing CR waits to see whether LF follows."""
        if self._held_cr:
            chunk = b"\r" + chunk
            self._held_cr = False
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
            self._held_cr = True
        return chunk.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        """What is held back at the end of the stream."""
        held, self._held_cr = self._held_cr, False
        return b"\r" if held else b""
