"""Text from a server, made safe to show on a terminal.

File names, replies and greetings come from the server, which may put
anything in them.  Written to a terminal as they are, an escape sequence
could retitle the window, clear the screen, move the cursor to forge
output, or on some terminals write the clipboard.  Every human-readable
line ftpferry prints passes through :func:`printable`, which writes
control characters as ``\\xNN`` (tab and newline stay).  JSON output and
downloaded bytes are left alone: JSON escapes control characters itself,
and a file's bytes are the file.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["printable"]

_CONTROL: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (ESC, CR, BEL, C1 ...) as ``\\xNN``."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
