"""Handlers for the name space: PWD CWD CDUP MKD RMD DELE RNFR RNTO SIZE MDTM
MFMT MLST and STAT with a path."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ftpferry.protocol import (
    ReplyCode,
    format_list_line,
    format_mdtm,
    format_mlsx_facts,
    parse_mdtm,
    quote_path,
)
from ftpferry.protocol.listing import DEFAULT_FACTS
from ftpferry.storage import NotADirectory

from .control import server_status
from .listings import list_entries

if TYPE_CHECKING:
    from ..session import Session

__all__ = [
    "change_directory",
    "delete",
    "make_directory",
    "modification_time",
    "print_directory",
    "remove_directory",
    "rename_from",
    "rename_to",
    "set_modification_time",
    "size",
    "status",
]


async def print_directory(session: Session, arg: str) -> None:
    """PWD: the current virtual directory, quoted per RFC 959."""
    session.reply(ReplyCode.PATH_CREATED, f"{quote_path(session.cwd)} is the current directory.")


async def change_directory(session: Session, arg: str) -> None:
    """CWD: only into a directory that exists inside the root."""
    path = session.resolve(arg)
    entry = await session.stat(path)
    if not entry.is_dir:
        raise NotADirectory(f"{path}: not a directory")
    session.cwd = path
    session.reply(ReplyCode.FILE_ACTION_OK, f"Directory changed to {path}.")


async def parent_directory(session: Session, arg: str) -> None:
    """CDUP: CWD .. (stays at / when already there)."""
    await change_directory(session, "..")


async def make_directory(session: Session, arg: str) -> None:
    """MKD: 257 with the new directory's quoted path."""
    path = session.resolve(arg)
    await session.require_storage().mkdir(path)
    session.reply(ReplyCode.PATH_CREATED, f"{quote_path(path)} created.")


async def remove_directory(session: Session, arg: str) -> None:
    """RMD: remove an empty directory."""
    path = session.resolve(arg)
    await session.require_storage().rmdir(path)
    session.reply(ReplyCode.FILE_ACTION_OK, f"Directory {path} removed.")


async def delete(session: Session, arg: str) -> None:
    """DELE: delete a file."""
    path = session.resolve(arg)
    await session.require_storage().remove(path)
    session.reply(ReplyCode.FILE_ACTION_OK, f"File {path} deleted.")


async def rename_from(session: Session, arg: str) -> None:
    """RNFR: remember the source; RNTO must come next."""
    path = session.resolve(arg)
    await session.stat(path)
    session.rename_from = path
    session.reply(ReplyCode.PENDING_FURTHER_INFO, "Ready for RNTO.")


async def rename_to(session: Session, arg: str) -> None:
    """RNTO: complete the rename started by the RNFR just before."""
    source = session.rename_from
    session.rename_from = None
    if source is None:
        session.reply(ReplyCode.BAD_SEQUENCE, "RNFR required first.")
        return
    target = session.resolve(arg)
    await session.require_storage().rename(source, target)
    session.reply(ReplyCode.FILE_ACTION_OK, f"Renamed {source} to {target}.")


async def size(session: Session, arg: str) -> None:
    """SIZE (RFC 3659): bytes of a regular file."""
    path = session.resolve(arg)
    entry = await session.stat(path)
    if not entry.is_file:
        session.reply(ReplyCode.FILE_UNAVAILABLE, f"{path}: not a regular file.")
        return
    session.reply(ReplyCode.FILE_STATUS, str(entry.size))


async def modification_time(session: Session, arg: str) -> None:
    """MDTM (RFC 3659): modification time in UTC."""
    path = session.resolve(arg)
    entry = await session.stat(path)
    if not entry.is_file:
        session.reply(ReplyCode.FILE_UNAVAILABLE, f"{path}: not a regular file.")
        return
    session.reply(ReplyCode.FILE_STATUS, format_mdtm(entry.mtime))


async def set_modification_time(session: Session, arg: str) -> None:
    """MFMT YYYYMMDDHHMMSS path (draft-somers-ftp-mfxx)."""
    stamp, _, path_text = arg.strip().partition(" ")
    try:
        mtime = parse_mdtm(stamp)
    except ValueError:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: MFMT YYYYMMDDHHMMSS path")
        return
    if not path_text:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: MFMT YYYYMMDDHHMMSS path")
        return
    path = session.resolve(path_text)
    await session.require_storage().set_mtime(path, mtime)
    session.reply(ReplyCode.FILE_STATUS, f"Modify={stamp}; {path}")


async def machine_list_single(session: Session, arg: str) -> None:
    """MLST: facts of one path over the control connection."""
    path = session.resolve(arg)
    entry = await session.stat(path)
    facts = session.mlst_facts if session.mlst_facts is not None else DEFAULT_FACTS
    line = format_mlsx_facts(entry, facts=facts, writable=session.writable)
    body = line.rpartition(" ")[0] + " " + path
    session.reply(ReplyCode.FILE_ACTION_OK, f"Listing {path}", body, "End")


async def status(session: Session, arg: str) -> None:
    """STAT: server status, or a LIST of a path sent over the control channel."""
    if not arg.strip():
        server_status(session)
        return
    entries = await list_entries(session, arg)
    now = time.time()
    lines = [format_list_line(entry, now=now) for entry in entries]
    session.reply(ReplyCode.FILE_STATUS, f"Status of {arg.strip()}:", *lines, "End of status")
