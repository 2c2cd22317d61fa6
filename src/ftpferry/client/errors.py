"""The client's exceptions: one base class, and every failure typed by its cause.

A caller usually wants to know one of four things when an FTP operation
fails: did the *server* say no (and was that temporary or for good), could
the *data connection* not be opened (and where to, in which mode), did the
*control connection* go away, or did *TLS* fail.  Each has its own class, and
every class that stems from a reply carries that reply, the codes that
would have been accepted and the command that provoked it (as aioftp's
``StatusCodeError`` does), so a tool such as ``doctor`` can explain a failure
without parsing messages.

Passwords never appear in an exception: commands are stored with the
argument of ``PASS`` masked.
"""

from __future__ import annotations

from collections.abc import Sequence

from .replies import Reply

__all__ = [
    "ConnectionFailed",
    "ConnectionLost",
    "DataConnectionError",
    "FTPError",
    "FTPTimeout",
    "LoginError",
    "NoGreeting",
    "PermanentError",
    "ProtocolError",
    "ReplyError",
    "ServiceClosing",
    "TLSError",
    "TemporaryError",
    "UnsupportedCommand",
    "mask_command",
]


def mask_command(command: str) -> str:
    """``PASS secret`` -> ``PASS ****``; any other command unchanged."""
    verb, _, _ = command.partition(" ")
    if verb.upper() in {"PASS", "ACCT"}:
        return f"{verb} ****"
    return command


class FTPError(Exception):
    """Base class of every error the client raises."""


class ReplyError(FTPError):
    """The server answered with a code the operation cannot accept.

    Attributes:
        reply: the whole reply, all its lines.
        code: the reply code received (``reply.code``).
        text: the reply text, lines joined by newlines.
        expected: the codes (or code classes such as 2 for "any 2xx") that
            would have been accepted.
        command: the command that was answered, with passwords masked.
    """

    def __init__(self, reply: Reply, *, expected: Sequence[int] = (), command: str = "") -> None:
        self.reply = reply
        self.code = reply.code
        self.text = reply.text
        self.expected = tuple(expected)
        self.command = mask_command(command)
        wanted = "/".join(_format_expected(code) for code in self.expected) or "success"
        where = f"{self.command}: " if self.command else ""
        super().__init__(f"{where}{reply.code} {reply.text} (expected {wanted})")

    @staticmethod
    def from_reply(reply: Reply, *, expected: Sequence[int] = (), command: str = "") -> ReplyError:
        """The most specific class for this code: 4xx temporary, 5xx permanent."""
        cls: type[ReplyError] = ReplyError
        if reply.code == 421:
            cls = ServiceClosing
        elif 400 <= reply.code < 500:
            cls = TemporaryError
        elif reply.code >= 500:
            cls = PermanentError
        return cls(reply, expected=expected, command=command)


def _format_expected(code: int) -> str:
    return f"{code}xx" if code < 10 else str(code)


class TemporaryError(ReplyError):
    """A 4xx reply: the action was not taken, but trying again later may work."""


class PermanentError(ReplyError):
    """A 5xx reply: the action was refused and repeating it will not help."""


class LoginError(ReplyError):
    """USER/PASS/ACCT did not lead to a logged-in session.

    Also raised (with the server's ``331`` reply) when the server asks for a
    password and none was found: not in the URL or the arguments, not in
    ``FTPFERRY_PASSWORD``, not in ``~/.netrc``, and prompting was not allowed.
    """


class DataConnectionError(FTPError):
    """The data connection could not be opened (or the server could not open it),
    or broke during a transfer that the server nonetheless reported complete.

    Attributes:
        mode: the command that set up the data channel: ``EPSV``, ``PASV``,
            ``EPRT`` or ``PORT``.
        address: the address connected to (passive) or listened on (active);
            empty when the failure came before one was known.
        port: the port connected to or listened on; 0 when not known.
        os_error: the operating system's error (refused, timed out, ...), if any.
        reply: the server's reply when the server reported the failure (425),
            or refused the data-channel command itself.
    """

    def __init__(
        self,
        message: str,
        *,
        mode: str,
        address: str = "",
        port: int = 0,
        os_error: OSError | None = None,
        reply: Reply | None = None,
    ) -> None:
        self.mode = mode
        self.address = address
        self.port = port
        self.os_error = os_error
        self.reply = reply
        details = [f"mode {mode}"]
        if address or port:
            details.append(f"{address} port {port}")
        if os_error is not None:
            details.append(os_error.strerror or str(os_error) or type(os_error).__name__)
        if reply is not None:
            details.append(f"server said {reply.code} {reply.text}")
        super().__init__(f"{message} ({'; '.join(details)})")


class ConnectionLost(FTPError):
    """The control connection closed or broke; the client must reconnect."""


class ConnectionFailed(ConnectionLost):
    """The control connection could not be opened at all.

    Attributes:
        host: the host connected to.
        port: the port connected to.
        os_error: the operating system's error, when there was one.
    """

    def __init__(self, host: str, port: int, reason: str, os_error: OSError | None = None) -> None:
        self.host = host
        self.port = port
        self.os_error = os_error
        super().__init__(f"cannot connect to {host} port {port}: {reason}")


class ServiceClosing(TemporaryError, ConnectionLost):
    """``421``: the server is closing the control connection (shutting down,
    too many users, idle time-out).  Both a reply error and a lost connection."""


class FTPTimeout(FTPError, TimeoutError):
    """No reply (or no data) within the configured time-out.

    After a time-out on the control connection the client cannot know which
    reply belongs to which command any more, so it closes the connection.
    """


class NoGreeting(FTPTimeout):
    """The connection opened, but no ``220`` greeting came in time.

    A class of its own because its usual cause is not a slow server but
    the wrong protocol for the port: a port that speaks implicit FTPS says
    nothing until the client starts TLS, so a client that waits for the
    greeting first (plain FTP or explicit FTPS) waits forever.  Callers
    can then suggest ``implicit_tls`` rather than a longer time-out.

    Attributes:
        seconds: how long the client waited.
        implicit_tls: whether the connection already was implicit FTPS
            (then the wrong protocol is not the explanation).
    """

    def __init__(self, seconds: float, *, implicit_tls: bool) -> None:
        self.seconds = seconds
        self.implicit_tls = implicit_tls
        hint = "" if implicit_tls else " (a port for implicit FTPS waits for TLS first)"
        super().__init__(f"no greeting within {seconds}s{hint}")


class ProtocolError(FTPError):
    """The server sent something that is not FTP (a malformed reply line)."""


class ListingTooLarge(ProtocolError):
    """A listing went past ``max_listing_bytes``; the rest was not read."""

    def __init__(self, command: str, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"{command}: the listing went past {limit:,} bytes and was cut off (max_listing_bytes)"
        )


class TLSError(FTPError):
    """TLS could not be set up or failed: certificate, handshake, AUTH refused."""


class UnsupportedCommand(FTPError):
    """The server does not offer a command an operation needs.

    Raised before sending anything when FEAT shows the command is missing
    (``reply`` is then None), or when the server answers 500/502/504.

    Attributes:
        command: the verb that is not available (``MFMT``, ``HASH`` ...).
        reply: the server's refusal, when there was one.
    """

    def __init__(self, command: str, reason: str, *, reply: Reply | None = None) -> None:
        self.command = command
        self.reply = reply
        super().__init__(f"{command}: {reason}")
