"""Standard output as the destination of a download (``ftpferry get URL -``).

The bytes go straight to file descriptor 1, not through ``sys.stdout``:
that is a text stream (newline translation, an encoding), and even its
binary buffer would copy every megabyte once more on its way out.  Nothing
else is ever written to standard output while it carries a file, so a
pipe gets exactly the file (progress and summary go to stderr).

Standard output may have been left non-blocking by whoever shares it (a
parent that set ``O_NONBLOCK`` on a pipe it hands down); a plain unbuffered
file then answers a full pipe with ``None`` instead of a byte count, and a
write loop would spin.  :class:`StdoutSink` waits for the pipe instead.
"""

from __future__ import annotations

import io
import os
import select
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["STDOUT_DEST", "StdoutSink", "is_stdout_dest", "stdout_is_terminal"]

STDOUT_FD = 1
STDOUT_DEST = "-"
"""The DEST that means standard output, as for curl's ``-o -``."""


def is_stdout_dest(dest: str | None) -> bool:
    """True for ``-`` (``./-`` is a file called ``-``)."""
    return dest == STDOUT_DEST


def stdout_is_terminal() -> bool:
    """True when standard output is a terminal.

    Progress bars on stderr would then be drawn into the middle of the
    file's bytes on the same screen, so ``get URL -`` does without them.
    """
    return os.isatty(STDOUT_FD)


class StdoutSink(io.FileIO):
    """File descriptor 1 as an unbuffered binary file that is never closed by us."""

    def __init__(self) -> None:
        super().__init__(STDOUT_FD, "wb", closefd=False)

    def write(self, data: ReadableBuffer, /) -> int:
        """Write some bytes; on a full non-blocking pipe, wait until it drains."""
        while True:
            try:
                written = super().write(data)
            except BlockingIOError:
                written = None
            if written is not None:
                return written
            select.select([], [self.fileno()], [])
