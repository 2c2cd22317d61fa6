"""Expected failures as one line on stderr and an exit code, never a traceback.

Exit codes (documented in the README, stable for scripts):

===  =====================================================================
0    success
1    the server refused an operation (4xx/5xx), or some files of a mirror
     failed
2    usage: bad options or arguments (click's own code)
3    login refused (wrong user or password, or no password available)
4    connection: cannot connect, connection lost, time-out, data connection
5    local file error (missing source, permission denied, disk full)
6    TLS: handshake or certificate verification failed, AUTH TLS refused
130  interrupted (Ctrl+C)
===  =====================================================================

Messages always include the server's reply code and text when there was
a reply, and never a password (the library masks PASS in every message).
"""

from __future__ import annotations

import enum
import os
import ssl
from dataclasses import dataclass
from typing import Final

from ftpferry.client import (
    ConnectionFailed,
    ConnectionLost,
    DataConnectionError,
    FTPError,
    FTPTimeout,
    LoginError,
    NoGreeting,
    ReplyError,
    ServiceClosing,
    TLSError,
)

__all__ = ["CommandError", "ExitCode", "Failure", "describe_failure"]

# OpenSSL X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH_CODES: Final = frozenset({62, 64})
# Words servers use in a 530 that asks for TLS (ftpferry, vsftpd, ProFTPD, pure-ftpd).
_TLS_WORDS: Final = ("tls", "ssl", "encrypt", "cleartext")


class ExitCode(enum.IntEnum):
    """The process exit codes of the client commands (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    LOGIN = 3
    CONNECTION = 4
    LOCAL = 5
    TLS = 6
    INTERRUPTED = 130


class CommandError(Exception):
    """A failure a command detects itself (``rm`` of a directory without ``-r``)."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        self.exit_code = exit_code
        super().__init__(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """An exception, described for the user.

    Attributes:
        message: one line, without the ``ftpferry CMD:`` prefix.
        exit_code: what the process exits with.
        kind: a stable name for JSON (``login``, ``reply``, ``connection`` ...).
        code: the server's reply code, when a reply caused it.
    """

    message: str
    exit_code: ExitCode
    kind: str
    code: int | None = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _certificate_problem(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind ``exc``, if that is what it was."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _tls_message(exc: TLSError) -> str:
    """A refused certificate in words, with this command's way out.

    Without this, the message is OpenSSL's (``[SSL: CERTIFICATE_VERIFY_FAILED]
    certificate verify failed: self-signed certificate (_ssl.c:1006)``),
    which names the problem but not what to do about it.
    """
    problem = _certificate_problem(exc)
    if problem is None:
        return str(exc)
    reason = (problem.verify_message or problem.reason or "verification failed").rstrip(".")
    if problem.verify_code in _NAME_MISMATCH_CODES:
        return (
            f"the server's TLS certificate is not for this host name: {reason}; "
            "connect with a name the certificate covers (--insecure skips the check, "
            "for tests only)"
        )
    return (
        f"the server's TLS certificate is not trusted: {reason}; pass --cafile FILE with "
        "the CA certificate that issued it (for a self-signed certificate, the certificate "
        "itself), or --insecure to skip verification (for tests only)"
    )


def _resume_hint(exc: ReplyError) -> str:
    """What to do when the server will not continue a transfer (``-c``): ProFTPD
    refuses APPE, and STOR after REST, unless its AllowStoreRestart is on."""
    resuming = exc.command.split(" ", 1)[0].upper() in {"APPE", "REST"}
    if resuming and any(word in exc.text.lower() for word in ("restart", "append", "resum")):
        return "; the server does not continue partial files: transfer it again without -c"
    return ""


def describe_failure(exc: BaseException, *, plain: bool = False) -> Failure | None:
    """The user-facing account of an expected failure; None for a bug.

    ``plain``: the command used an unencrypted ``ftp://`` connection, so a
    login refused for the want of TLS can point at ``ftps://``.
    """
    if isinstance(exc, CommandError):
        return Failure(message=str(exc), exit_code=exc.exit_code, kind="command")
    if isinstance(exc, LoginError):
        if exc.code == 331:
            message = (
                f"login refused: the server wants a password for {exc.command.split()[1]} "
                "and none was given (URL, FTPFERRY_PASSWORD, ~/.netrc, or a terminal to ask on)"
            )
        else:
            message = f"login refused: {exc.code} {_one_line(exc.text)}"
            if plain and any(word in exc.text.lower() for word in _TLS_WORDS):
                message += " (the server wants FTPS: use an ftps:// URL)"
        return Failure(message=message, exit_code=ExitCode.LOGIN, kind="login", code=exc.code)
    if isinstance(exc, ServiceClosing):
        return Failure(
            message=f"the server closed the connection: {exc.code} {_one_line(exc.text)}",
            exit_code=ExitCode.CONNECTION,
            kind="connection",
            code=exc.code,
        )
    if isinstance(exc, ReplyError):
        where = f" ({exc.command})" if exc.command else ""
        return Failure(
            message=f"{exc.code} {_one_line(exc.text)}{where}{_resume_hint(exc)}",
            exit_code=ExitCode.FAILED,
            kind="reply",
            code=exc.code,
        )
    if isinstance(exc, TLSError):
        return Failure(message=_tls_message(exc), exit_code=ExitCode.TLS, kind="tls")
    if isinstance(exc, ConnectionFailed) and exc.os_error is not None and exc.os_error.errno:
        # asyncio words a refused connect as "Connect call failed (addr)": name the cause.
        reason = os.strerror(exc.os_error.errno)
        return Failure(
            message=f"cannot connect to {exc.host} port {exc.port}: {reason}",
            exit_code=ExitCode.CONNECTION,
            kind="connection",
        )
    if isinstance(exc, NoGreeting) and not exc.implicit_tls:
        return Failure(
            message=f"timed out: {exc}; for such a port, use --implicit-tls",
            exit_code=ExitCode.CONNECTION,
            kind="timeout",
        )
    if isinstance(exc, FTPTimeout):
        return Failure(message=f"timed out: {exc}", exit_code=ExitCode.CONNECTION, kind="timeout")
    if isinstance(exc, ConnectionFailed | ConnectionLost):
        return Failure(message=str(exc), exit_code=ExitCode.CONNECTION, kind="connection")
    if isinstance(exc, DataConnectionError):
        code = exc.reply.code if exc.reply is not None else None
        return Failure(
            message=str(exc), exit_code=ExitCode.CONNECTION, kind="data-connection", code=code
        )
    if isinstance(exc, FTPError):
        return Failure(message=str(exc), exit_code=ExitCode.FAILED, kind="ftp")
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        return Failure(message=f"{detail}{where}", exit_code=ExitCode.LOCAL, kind="local")
    return None
