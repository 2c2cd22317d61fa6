"""Handlers for login and session settings: USER PASS QUIT REIN NOOP SYST TYPE
MODE STRU ALLO FEAT OPTS HELP SITE and STAT without a path."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from ftpferry.protocol import COMMANDS, ReplyCode
from ftpferry.protocol.listing import ALL_FACTS

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger("ftpferry.session")

FEATURES: Final = (
    "EPRT",
    "EPSV",
    "MDTM",
    "MFMT",
    "MLST " + "".join(f"{fact}*;" for fact in ALL_FACTS),
    "PASV",
    "REST STREAM",
    "SIZE",
    "TVFS",
    "UTF8",
)


async def user(session: Session, arg: str) -> None:
    """USER: start (or restart) a login."""
    name = arg.strip()
    if session.server.config.tls.require_control and not session.tls_active:
        session.reply(ReplyCode.NOT_LOGGED_IN, "TLS is required: send AUTH TLS before USER.")
        return
    session.reset_login()
    session.pending_user = name
    if session.server.authenticator.is_anonymous(name):
        session.reply(ReplyCode.NEED_PASSWORD, "Anonymous login ok, send your e-mail as password.")
    else:
        session.reply(ReplyCode.NEED_PASSWORD, f"Password required for {name}.")


async def password(session: Session, arg: str) -> None:
    """PASS: check the password; the same delay and reply for every failure."""
    name = session.pending_user
    if session.account is not None:
        session.reply(ReplyCode.BAD_SEQUENCE, "Already logged in.")
        return
    if name is None:
        session.reply(ReplyCode.BAD_SEQUENCE, "Send USER first.")
        return
    session.pending_user = None
    defender = session.server.defender
    if not defender.login_attempt_allowed(session.peer):
        session.reply(ReplyCode.SERVICE_NOT_AVAILABLE, "Too many login attempts; try again later.")
        session.close()
        return
    account = await session.server.authenticator.authenticate(name, arg)
    if account is None:
        log.warning("failed login for user %r from %s", name[:64], session.peer)
        # Unknown user and wrong password take the same path and the same time.
        await asyncio.sleep(defender.record_failure(session.peer, name))
        session.reply(ReplyCode.NOT_LOGGED_IN, "Login incorrect.")
        if defender.ban_remaining(session.peer) > 0:
            session.reply(ReplyCode.SERVICE_NOT_AVAILABLE, "Too many failed logins; closing.")
            session.close()
        return
    defender.record_success(session.peer)
    if account.tls_required and not session.tls_active:
        log.warning("user %s refused over clear text from %s", account.name, session.peer)
        session.reply(ReplyCode.NOT_LOGGED_IN, "TLS is required for this user: use AUTH TLS.")
        return
    session.account = account
    session.storage = session.server.storage_for(account)
    session.cwd = "/"
    log.info(
        "login %s from %s%s",
        account.name,
        session.peer,
        " (read-only)" if account.read_only else "",
    )
    session.reply(ReplyCode.LOGGED_IN, f"User {account.name} logged in.")


async def quit_session(session: Session, arg: str) -> None:
    """QUIT: say goodbye and close."""
    session.reply(ReplyCode.CLOSING, "Goodbye.")
    session.close()


async def reinitialize(session: Session, arg: str) -> None:
    """REIN: log out but keep the connection (RFC 959)."""
    session.reset_login()
    session.reply(ReplyCode.SERVICE_READY, "Ready for a new user.")


async def noop(session: Session, arg: str) -> None:
    """NOOP."""
    session.reply(ReplyCode.OK, "NOOP ok.")


async def system(session: Session, arg: str) -> None:
    """SYST: what every client expects from a Unix server."""
    session.reply(ReplyCode.SYSTEM_TYPE, "UNIX Type: L8")


async def transfer_type(session: Session, arg: str) -> None:
    """TYPE A [N] | I | L 8."""
    words = arg.upper().split()
    if words in (["A"], ["A", "N"]):
        session.ascii_mode = True
        session.reply(ReplyCode.OK, "Type set to A (ASCII).")
    elif words in (["I"], ["L", "8"]):
        session.ascii_mode = False
        session.reply(ReplyCode.OK, "Type set to I (binary).")
    elif words and words[0] in {"A", "E", "L"}:
        session.reply(
            ReplyCode.NOT_IMPLEMENTED_FOR_PARAM, f"TYPE {' '.join(words)[:20]} is not supported."
        )
    else:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: TYPE A | I")


async def mode(session: Session, arg: str) -> None:
    """MODE S (stream) or B (block, RFC 959 3.4.2: the data connection stays
    open between transfers; see :mod:`ftpferry.protocol.blocks`).

    Either one closes a data connection kept open by block mode: its
    framing would no longer match.
    """
    value = _one_letter(session, arg, "MODE", accepted="SB", known="SBC")
    if value is not None:
        session.close_data_channel()
        session.block_mode = value == "B"


async def structure(session: Session, arg: str) -> None:
    """STRU F only (file)."""
    _one_letter(session, arg, "STRU", accepted="F", known="FRP")


def _one_letter(session: Session, arg: str, verb: str, *, accepted: str, known: str) -> str | None:
    """Reply to a one-letter setting; returns the letter when it is accepted."""
    value = arg.strip().upper()
    if len(value) == 1 and value in accepted:
        session.reply(ReplyCode.OK, f"{verb} set to {value}.")
        return value
    if len(value) == 1 and value in known:
        session.reply(ReplyCode.NOT_IMPLEMENTED_FOR_PARAM, f"{verb} {value} is not supported.")
    else:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, f"Syntax: {verb} {' | '.join(accepted)}")
    return None


async def allocate(session: Session, arg: str) -> None:
    """ALLO: nothing to reserve on a file system that grows as needed."""
    session.reply(ReplyCode.COMMAND_SUPERFLUOUS, "No storage allocation necessary.")


TLS_FEATURES: Final = ("AUTH TLS", "PBSZ", "PROT")


async def features(session: Session, arg: str) -> None:
    """FEAT (RFC 2389); AUTH/PBSZ/PROT only when TLS is configured."""
    listed: tuple[str, ...] = FEATURES
    if session.server.tls_context is not None:
        listed = tuple(sorted(FEATURES + TLS_FEATURES))
    session.reply(ReplyCode.SYSTEM_STATUS, "Features:", *listed, "End")


async def options(session: Session, arg: str) -> None:
    """OPTS UTF8 ON|OFF and OPTS MLST fact;fact;."""
    name, _, value = arg.strip().partition(" ")
    name = name.upper()
    if name == "UTF8":
        if value.strip().upper() in {"ON", ""}:
            session.reply(ReplyCode.OK, "UTF8 mode is always on.")
        else:
            session.reply(ReplyCode.NOT_IMPLEMENTED_FOR_PARAM, "UTF8 cannot be turned off.")
    elif name == "MLST":
        wanted = [fact.lower() for fact in value.strip().split(";") if fact]
        chosen = tuple(fact for fact in ALL_FACTS if fact in wanted)
        session.mlst_facts = chosen
        session.reply(ReplyCode.OK, "MLST OPTS " + "".join(f"{fact};" for fact in chosen))
    else:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, f"Unknown option {name[:20]}.")


async def help_command(session: Session, arg: str) -> None:
    """HELP and HELP <verb>."""
    topic = arg.strip().upper()
    if not topic:
        verbs = sorted(COMMANDS)
        rows = [
            " ".join(f"{verb:<5}" for verb in verbs[i : i + 8]) for i in range(0, len(verbs), 8)
        ]
        session.reply(ReplyCode.HELP, "The following commands are recognized:", *rows, "Help OK.")
        return
    spec = COMMANDS.get(topic)
    if spec is None:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, f"Unknown command {topic[:20]}.")
    else:
        session.reply(ReplyCode.HELP, f"Syntax: {spec.syntax}")


async def site(session: Session, arg: str) -> None:
    """SITE HELP and SITE CHMOD <octal mode> <path>."""
    subcommand, _, rest = arg.strip().partition(" ")
    subcommand = subcommand.upper()
    if subcommand == "HELP":
        session.reply(ReplyCode.HELP, "SITE commands:", "CHMOD <mode> <path>", "HELP", "Help OK.")
        return
    if subcommand != "CHMOD":
        session.reply(ReplyCode.SYNTAX_ERROR, f"Unknown SITE command {subcommand[:20]}.")
        return
    if not session.writable:
        session.reply(ReplyCode.FILE_UNAVAILABLE, "Permission denied: this account is read-only.")
        return
    mode_text, _, path_text = rest.strip().partition(" ")
    if (
        not path_text
        or not mode_text
        or any(c not in "01234567" for c in mode_text)
        or len(mode_text) > 4
    ):
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: SITE CHMOD <octal mode> <path>")
        return
    path = session.resolve(path_text)
    await session.require_storage().chmod(path, int(mode_text, 8))
    session.reply(ReplyCode.OK, "SITE CHMOD command successful.")


def server_status(session: Session) -> None:
    """STAT with no argument: who we are, what the session has set."""
    account = session.account
    data = "none"
    if session.passive is not None:
        data = f"passive, listening on port {session.passive.port}"
    elif session.active is not None:
        data = f"active, to {session.active.address.host} port {session.active.address.port}"
    session.reply(
        ReplyCode.SYSTEM_STATUS,
        "ftpferry FTP server status:",
        f"Connected from {session.peer} port {session.peer_port}",
        f"Logged in as {account.name}" if account else "Not logged in",
        f"TYPE: {'ASCII' if session.ascii_mode else 'BINARY'}, STRU: F, MODE: S",
        f"Data connection: {data}",
        session.server.pool.usage(),
        "End of status",
    )


__all__ = [
    "FEATURES",
    "allocate",
    "features",
    "help_command",
    "mode",
    "noop",
    "options",
    "password",
    "quit_session",
    "reinitialize",
    "server_status",
    "site",
    "structure",
    "system",
    "transfer_type",
    "user",
]
