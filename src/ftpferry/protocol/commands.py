"""Command parsing and the declarative table of every verb ftpferry knows.

One :class:`CommandSpec` per verb says whether it needs a logged-in user,
whether it takes an argument, whether it writes to storage (read-only users
are refused before the handler runs) and its help text.  The session
dispatches through an explicit dict built from this table, never through
``getattr("ftp_" + verb)``, so an unknown verb can never reach code by name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "COMMANDS",
    "Arg",
    "Command",
    "CommandSpec",
    "parse_command",
]


class Arg(enum.Enum):
    """Whether a verb takes an argument."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    """What the session needs to know about a verb before running it."""

    verb: str
    arg: Arg
    needs_login: bool = True
    writes: bool = False
    syntax: str = ""
    alias_of: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A parsed control line: an upper-cased verb and its raw argument."""

    verb: str
    arg: str

    def __post_init__(self) -> None:
        if not self.verb or not self.verb.isupper():
            raise ValueError(f"verb must be non-empty upper case, got {self.verb!r}")


def parse_command(line: str) -> Command | None:
    """Split a control line into verb and argument.

    Returns None for a line with no verb (empty or blank), or a verb that is
    not plain letters: such a line gets ``500`` without being echoed.  The
    argument keeps inner and trailing spaces, because file names may end with
    a space; only the single separator after the verb is removed.
    """
    stripped = line.lstrip(" ")
    verb, _, arg = stripped.partition(" ")
    if not verb or len(verb) > 8 or not verb.isascii() or not verb.isalpha():
        return None
    return Command(verb=verb.upper(), arg=arg)


def _spec(
    verb: str,
    arg: Arg,
    syntax: str,
    *,
    needs_login: bool = True,
    writes: bool = False,
    alias_of: str | None = None,
) -> CommandSpec:
    return CommandSpec(
        verb=verb,
        arg=arg,
        needs_login=needs_login,
        writes=writes,
        syntax=syntax,
        alias_of=alias_of,
    )


_A, _N, _O = Arg.REQUIRED, Arg.NONE, Arg.OPTIONAL

_SPECS: Final = (
    _spec("ABOR", _N, "ABOR (abort a transfer)"),
    _spec("ALLO", _O, "ALLO <SP> bytes (no-op)"),
    _spec("APPE", _A, "APPE <SP> file-name", writes=True),
    _spec("AUTH", _A, "AUTH <SP> TLS", needs_login=False),
    _spec("CCC", _N, "CCC (clear command channel; refused)", needs_login=False),
    _spec("CDUP", _N, "CDUP (go to parent directory)"),
    _spec("CWD", _A, "CWD <SP> dir-name"),
    _spec("DELE", _A, "DELE <SP> file-name", writes=True),
    _spec("EPRT", _A, "EPRT <SP> |proto|addr|port|"),
    _spec("EPSV", _O, "EPSV [<SP> proto|ALL]"),
    _spec("FEAT", _N, "FEAT (list extensions)", needs_login=False),
    _spec("HELP", _O, "HELP [<SP> command]", needs_login=False),
    _spec("LIST", _O, "LIST [<SP> path]"),
    _spec("MDTM", _A, "MDTM <SP> file-name"),
    _spec("MFMT", _A, "MFMT <SP> YYYYMMDDHHMMSS <SP> path", writes=True),
    _spec("MKD", _A, "MKD <SP> dir-name", writes=True),
    _spec("MLSD", _O, "MLSD [<SP> dir-name]"),
    _spec("MLST", _O, "MLST [<SP> path]"),
    _spec("MODE", _A, "MODE <SP> S"),
    _spec("NLST", _O, "NLST [<SP> path]"),
    _spec("NOOP", _N, "NOOP", needs_login=False),
    _spec("OPTS", _A, "OPTS <SP> UTF8 ON | MLST facts", needs_login=False),
    _spec("PASS", _O, "PASS <SP> password", needs_login=False),
    _spec("PASV", _N, "PASV (enter passive mode)"),
    _spec("PBSZ", _A, "PBSZ <SP> 0", needs_login=False),
    _spec("PORT", _A, "PORT <SP> h1,h2,h3,h4,p1,p2"),
    _spec("PROT", _A, "PROT <SP> P | C", needs_login=False),
    _spec("PWD", _N, "PWD (print working directory)"),
    _spec("QUIT", _N, "QUIT (close the session)", needs_login=False),
    _spec("REIN", _N, "REIN (log out, keep the connection)", needs_login=False),
    _spec("REST", _A, "REST <SP> offset"),
    _spec("RETR", _A, "RETR <SP> file-name"),
    _spec("RMD", _A, "RMD <SP> dir-name", writes=True),
    _spec("RNFR", _A, "RNFR <SP> file-name", writes=True),
    _spec("RNTO", _A, "RNTO <SP> file-name", writes=True),
    _spec("SITE", _A, "SITE <SP> HELP | CHMOD mode path"),
    _spec("SIZE", _A, "SIZE <SP> file-name"),
    _spec("STAT", _O, "STAT [<SP> path]"),
    _spec("STOR", _A, "STOR <SP> file-name", writes=True),
    _spec("STOU", _O, "STOU (store under a unique name)", writes=True),
    _spec("STRU", _A, "STRU <SP> F"),
    _spec("SYST", _N, "SYST", needs_login=False),
    _spec("TYPE", _A, "TYPE <SP> A | I"),
    _spec("USER", _A, "USER <SP> user-name", needs_login=False),
    _spec("XCUP", _N, "XCUP (same as CDUP)", alias_of="CDUP"),
    _spec("XCWD", _A, "XCWD <SP> dir-name (same as CWD)", alias_of="CWD"),
    _spec("XMKD", _A, "XMKD <SP> dir-name (same as MKD)", writes=True, alias_of="MKD"),
    _spec("XPWD", _N, "XPWD (same as PWD)", alias_of="PWD"),
    _spec("XRMD", _A, "XRMD <SP> dir-name (same as RMD)", writes=True, alias_of="RMD"),
)

COMMANDS: Final[dict[str, CommandSpec]] = {spec.verb: spec for spec in _SPECS}
"""Every verb ftpferry implements, by upper-case name."""

NOT_IMPLEMENTED: Final = frozenset({"ACCT", "SMNT", "ADAT", "CONF", "ENC", "MIC", "LANG"})
"""Verbs from the RFCs we know of but do not implement: these get 502, not 500."""
