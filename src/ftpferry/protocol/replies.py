"""FTP replies: typed values and their wire format (RFC 959 section 4.2).

A reply is built from a :class:`ReplyCode` and text lines, never by string
concatenation, so that the one place that writes bytes can guarantee that no
CR or LF taken from a client's argument ever reaches the wire: a path such as
``"x\\r\\n230 fake"`` must not forge a second reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["Reply", "ReplyCode", "quote_path", "sanitize"]


class ReplyCode(IntEnum):
    """The reply codes ftpferry sends, named after their RFC meaning."""

    RESTART_MARKER = 110
    SERVICE_READY_SOON = 120
    DATA_ALREADY_OPEN = 125
    FILE_STATUS_OK = 150
    OK = 200
    COMMAND_SUPERFLUOUS = 202
    SYSTEM_STATUS = 211
    DIRECTORY_STATUS = 212
    FILE_STATUS = 213
    HELP = 214
    SYSTEM_TYPE = 215
    SERVICE_READY = 220
    CLOSING = 221
    DATA_OPEN_NO_TRANSFER = 225
    TRANSFER_COMPLETE = 226
    ENTERING_PASSIVE = 227
    ENTERING_EXTENDED_PASSIVE = 229
    LOGGED_IN = 230
    SECURITY_EXCHANGE_OK = 234
    FILE_ACTION_OK = 250
    PATH_CREATED = 257
    NEED_PASSWORD = 331
    NEED_ACCOUNT = 332
    PENDING_FURTHER_INFO = 350
    SERVICE_NOT_AVAILABLE = 421
    CANT_OPEN_DATA = 425
    TRANSFER_ABORTED = 426
    FILE_BUSY = 450
    LOCAL_ERROR = 451
    INSUFFICIENT_STORAGE = 452
    SYNTAX_ERROR = 500
    SYNTAX_ERROR_ARGS = 501
    NOT_IMPLEMENTED = 502
    BAD_SEQUENCE = 503
    NOT_IMPLEMENTED_FOR_PARAM = 504
    DATA_PROTECTION_REQUIRED = 521
    NETWORK_PROTOCOL_NOT_SUPPORTED = 522
    NOT_LOGGED_IN = 530
    PROTECTION_DENIED = 533
    POLICY_REQUIRES_TLS = 534
    PROTECTION_LEVEL_NOT_SUPPORTED = 536
    FILE_UNAVAILABLE = 550
    PAGE_TYPE_UNKNOWN = 551
    EXCEEDED_STORAGE = 552
    BAD_FILE_NAME = 553
    INVALID_REST = 554


def sanitize(text: str) -> str:
    """Make client-supplied text safe to embed in a reply line.

    CR and LF would end the reply early and let a client forge replies; NUL is
    replaced too.  Undecodable bytes (lone surrogates from ``surrogateescape``)
    become ``?`` so that encoding the reply can never fail.
    """
    if text.isprintable() and text.isascii():
        return text
    cleaned = text.replace("\r", " ").replace("\n", " ").replace("\x00", " ")
    return cleaned.encode("utf-8", "replace").decode("utf-8")


def quote_path(path: str) -> str:
    """Quote a path for a 257 reply: surround with quotes, double inner quotes."""
    return '"' + sanitize(path).replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: a code and one or more lines of text.

    Multi-line replies follow RFC 959 4.2: ``CODE-first``, continuation lines
    each indented by one space (so a line starting with digits can never be
    mistaken for the end), and ``CODE last``.
    """

    code: int
    lines: tuple[str, ...] = field(default=("",))

    def __post_init__(self) -> None:
        if not 100 <= self.code <= 599:
            raise ValueError(f"reply code {self.code} is not in 100-599")
        if not self.lines:
            raise ValueError("a reply needs at least one line")

    @classmethod
    def of(cls, code: int, *lines: str) -> Reply:
        """Build a reply from a code and its lines of text."""
        return cls(int(code), tuple(lines) if lines else ("",))

    @property
    def is_positive(self) -> bool:
        """True for 1xx, 2xx and 3xx replies."""
        return self.code < 400

    def to_bytes(self) -> bytes:
        """Serialize the reply, sanitizing every line."""
        code = str(self.code)
        lines = [sanitize(line) for line in self.lines]
        if len(lines) == 1:
            return f"{code} {lines[0]}\r\n".encode()
        head = f"{code}-{lines[0]}\r\n"
        middle = "".join(f" {line}\r\n" for line in lines[1:-1])
        tail = f"{code} {lines[-1]}\r\n"
        return (head + middle + tail).encode()
