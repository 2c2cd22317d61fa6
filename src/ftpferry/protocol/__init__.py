"""The sans-IO protocol core of ftpferry: no sockets, no asyncio, no files.

Bytes and values go in, typed events and bytes come out.  Everything here is
a pure function or a small state object, so it is tested without a network.

The names below are loaded from their modules on first use (PEP 562): the
client needs the address codecs and listing times but not the server's
command table and line framing, and every module imported costs start-up
time of a command-line run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ftpferry.lazy import lazy_exports

if TYPE_CHECKING:
    from .addresses import (
        AddressSyntaxError,
        HostPort,
        UnsupportedNetworkProtocol,
        format_eprt,
        format_epsv_reply,
        format_pasv_reply,
        format_port,
        parse_eprt,
        parse_epsv_reply,
        parse_pasv_reply,
        parse_port,
    )
    from .commands import COMMANDS, Arg, Command, CommandSpec, parse_command
    from .framing import (
        MAX_DISCARD,
        MAX_LINE,
        NEED_DATA,
        EndOfStream,
        LineReader,
        LineReceived,
        LineTooLong,
        StreamCorrupt,
    )
    from .listing import FileStat, format_list_line, format_mdtm, format_mlsx_facts, parse_mdtm
    from .paths import PathError, resolve
    from .replies import Reply, ReplyCode, quote_path, sanitize

_HOMES: Final = {
    "AddressSyntaxError": "addresses",
    "HostPort": "addresses",
    "UnsupportedNetworkProtocol": "addresses",
    "format_eprt": "addresses",
    "format_epsv_reply": "addresses",
    "format_pasv_reply": "addresses",
    "format_port": "addresses",
    "parse_eprt": "addresses",
    "parse_epsv_reply": "addresses",
    "parse_pasv_reply": "addresses",
    "parse_port": "addresses",
    "Arg": "commands",
    "COMMANDS": "commands",
    "Command": "commands",
    "CommandSpec": "commands",
    "parse_command": "commands",
    "EndOfStream": "framing",
    "LineReader": "framing",
    "LineReceived": "framing",
    "LineTooLong": "framing",
    "MAX_DISCARD": "framing",
    "MAX_LINE": "framing",
    "NEED_DATA": "framing",
    "StreamCorrupt": "framing",
    "FileStat": "listing",
    "format_list_line": "listing",
    "format_mdtm": "listing",
    "format_mlsx_facts": "listing",
    "parse_mdtm": "listing",
    "PathError": "paths",
    "resolve": "paths",
    "Reply": "replies",
    "ReplyCode": "replies",
    "quote_path": "replies",
    "sanitize": "replies",
}

__all__ = [
    "COMMANDS",
    "MAX_DISCARD",
    "MAX_LINE",
    "NEED_DATA",
    "AddressSyntaxError",
    "Arg",
    "Command",
    "CommandSpec",
    "EndOfStream",
    "FileStat",
    "HostPort",
    "LineReader",
    "LineReceived",
    "LineTooLong",
    "PathError",
    "Reply",
    "ReplyCode",
    "StreamCorrupt",
    "UnsupportedNetworkProtocol",
    "format_eprt",
    "format_epsv_reply",
    "format_list_line",
    "format_mdtm",
    "format_mlsx_facts",
    "format_pasv_reply",
    "format_port",
    "parse_command",
    "parse_eprt",
    "parse_epsv_reply",
    "parse_mdtm",
    "parse_pasv_reply",
    "parse_port",
    "quote_path",
    "resolve",
    "sanitize",
]


__getattr__ = lazy_exports(__name__, _HOMES)
