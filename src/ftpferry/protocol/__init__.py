"""The sans-IO protocol core of ftpferry: no sockets, no asyncio, no files.

Bytes and values go in, typed events and bytes come out.  Everything here is
a pure function or a small state object, so it is tested without a network.
"""

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
