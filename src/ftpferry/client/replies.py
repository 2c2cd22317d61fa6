"""Server replies as the client sees them: parsing lines into typed values.

This module is sans-IO, like :mod:`ftpferry.protocol`: :class:`ReplyParser`
takes decoded control lines and returns a :class:`Reply` when one is
complete; the connection code does the reading.  A multi-line reply
(RFC 959 4.2) starts with ``123-`` and ends at the first line that starts
with the same code and a space; continuation lines lose the one space of
indentation that RFC 2389 (FEAT) and RFC 3659 (MLST) put in front of them.

:class:`Features` is the parsed FEAT reply, which decides how the client
lists directories (MLSD or LIST), stats files (MLST or SIZE/MDTM) and
computes checksums (HASH or the X... commands).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ftpferry.protocol import replies as protocol_replies

__all__ = ["Features", "Reply", "ReplyParser", "parse_pwd_reply"]

_FIRST_LINE: Final = re.compile(r"([1-5]\d\d)([ -]?)(.*)", re.ASCII | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Reply(protocol_replies.Reply):
    """One server reply: its code and its lines (at least one, maybe empty)."""

    @property
    def text(self) -> str:
        """All lines joined by newlines."""
        return "\n".join(self.lines)

    @property
    def category(self) -> int:
        """The first digit: 1 preliminary, 2 done, 3 more needed, 4 try again, 5 refused."""
        return self.code // 100


class ReplyParser:
    """Turn control lines into replies (see the module docstring).

    Feed lines without their line end; :meth:`feed_line` returns a reply once
    its last line has arrived and None while a multi-line reply is open.  A
    first line that does not start with a reply code raises ValueError.
    """

    __slots__ = ("_code", "_lines")

    def __init__(self) -> None:
        self._code: str | None = None
        self._lines: list[str] = []

    @property
    def in_reply(self) -> bool:
        """True while a multi-line reply has started and not yet ended."""
        return self._code is not None

    def feed_line(self, line: str) -> Reply | None:
        """Add one line; return the reply it completes, if any."""
        if self._code is None:
            match = _FIRST_LINE.fullmatch(line)
            if match is None or (match.group(2) == "" and match.group(3)):
                raise ValueError(f"not an FTP reply line: {line[:80]!r}")
            code, separator, text = match.groups()
            if separator == "-":
                self._code = code
                self._lines = [text]
                return None
            return Reply(int(code), (text,))
        code = self._code
        if line.startswith(code) and line[3:4] in {" ", ""}:
            lines = (*self._lines, line[4:])
            self._code, self._lines = None, []
            return Reply(int(code), lines)
        # pure-ftpd style repeats "123-" on every line; RFC style indents by one space.
        self._lines.append(line[4:] if line.startswith(code + "-") else line.removeprefix(" "))
        return None


def parse_pwd_reply(reply: Reply) -> str:
    """The directory named in a 257 reply: ``"/a ""quoted"" dir" is current``.

    RFC 959 doubles quotes inside the name.  A server that sends no quotes
    at all gets its first word taken as the path.
    """
    text = reply.lines[0]
    start = text.find('"')
    if start < 0:
        return text.split(" ", 1)[0]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            if text[index + 1 : index + 2] == '"':
                chars.append('"')
                index += 2
                continue
            break
        chars.append(char)
        index += 1
    return "".join(chars)


@dataclass(frozen=True, slots=True)
class Features:
    """The FEAT reply (RFC 2389): feature name (upper case) -> its parameters.

    ``"MLST" in features`` asks whether a feature is offered;
    ``features["MLST"]`` gives its parameter text (``type*;size*;modify*;``).
    An empty :class:`Features` means the server does not implement FEAT.
    """

    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_reply(cls, reply: Reply) -> Features:
        """Parse a 211 FEAT reply; its first and last lines are not features."""
        names: dict[str, str] = {}
        if reply.code == 211:
            for line in reply.lines[1:-1]:
                name, _, params = line.strip().partition(" ")
                if name:
                    names[name.upper()] = params.strip()
        return cls(MappingProxyType(names))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self.names

    def __getitem__(self, name: str) -> str:
        return self.names[name.upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def mlst_facts(self) -> tuple[str, ...]:
        """Facts MLST/MLSD can report (lower case, without the ``*`` marks)."""
        return _semicolon_list(self.names.get("MLST", ""), lower=True)

    @property
    def hash_algorithms(self) -> tuple[str, ...]:
        """Algorithms the HASH command offers (``SHA-256``, ``MD5`` ...)."""
        return _semicolon_list(self.names.get("HASH", ""), lower=False)

    @property
    def auth_methods(self) -> tuple[str, ...]:
        """Mechanisms AUTH accepts, e.g. ``("TLS",)`` (some servers list ``AUTH TLS;SSL``)."""
        return tuple(
            item.strip().upper()
            for item in self.names.get("AUTH", "").replace(";", " ").split()
            if item.strip()
        )


def _semicolon_list(text: str, *, lower: bool) -> tuple[str, ...]:
    items = (item.strip().rstrip("*") for item in text.split(";"))
    return tuple(item.lower() if lower else item.upper() for item in items if item)
