"""Command-line parsing, the COMMANDS table and its agreement with HANDLERS."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.protocol import COMMANDS, Arg, Command, parse_command
from ftpferry.protocol.commands import NOT_IMPLEMENTED
from ftpferry.server.handlers import HANDLERS


@pytest.mark.parametrize(
    ("line", "verb", "arg"),
    [
        ("USER alice", "USER", "alice"),
        ("user alice", "USER", "alice"),
        ("NoOp", "NOOP", ""),
        ("PWD", "PWD", ""),
        ("  CWD dir", "CWD", "dir"),
        ("STOR  leading and trailing ", "STOR", " leading and trailing "),
        ("PASS s3cret pass", "PASS", "s3cret pass"),
        ("RETR ", "RETR", ""),
        ("SITE chmod 644 f", "SITE", "chmod 644 f"),
        ("ABCDEFGH x", "ABCDEFGH", "x"),
        ("CWD \udcff", "CWD", "\udcff"),
    ],
)
def test_parse_command(line: str, verb: str, arg: str) -> None:
    assert parse_command(line) == Command(verb=verb, arg=arg)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "123 abc",
        "US3R alice",
        "ABCDEFGHI x",  # nine letters
        "CWD\tdir",
        "ÜSER x",
        "\u212aILL",  # KELVIN SIGN: alphabetic but not ASCII
        "-",
        "\x00NOOP",
    ],
)
def test_parse_command_refuses(line: str) -> None:
    assert parse_command(line) is None


@pytest.mark.parametrize("verb", ["", "user", "Noop", "äbc"])
def test_command_verb_must_be_upper_case(verb: str) -> None:
    with pytest.raises(ValueError, match="upper case"):
        Command(verb=verb, arg="")


@settings(max_examples=300)
@given(line=st.text(max_size=30))
def test_parse_command_never_raises(line: str) -> None:
    command = parse_command(line)
    if command is not None:
        assert command.verb.isascii()
        assert command.verb.isalpha()
        assert command.verb.isupper()
        assert 1 <= len(command.verb) <= 8
        assert line.lstrip(" ").upper().startswith(command.verb)


@settings(max_examples=100)
@given(verb=st.sampled_from(sorted(COMMANDS)), arg=st.text(max_size=20))
def test_every_known_verb_parses(verb: str, arg: str) -> None:
    assert parse_command(f"{verb.lower()} {arg}") == Command(verb=verb, arg=arg)


# -- the table -----------------------------------------------------------------------


def test_table_keys_match_specs() -> None:
    for verb, spec in COMMANDS.items():
        assert spec.verb == verb
        assert parse_command(verb) == Command(verb=verb, arg="")
        assert spec.syntax, verb


def test_every_command_has_a_handler_and_vice_versa() -> None:
    real = {verb for verb, spec in COMMANDS.items() if spec.alias_of is None}
    assert real == set(HANDLERS)


def test_aliases_point_at_real_commands() -> None:
    aliases = {verb: spec for verb, spec in COMMANDS.items() if spec.alias_of is not None}
    assert set(aliases) == {"XCUP", "XCWD", "XMKD", "XPWD", "XRMD"}
    for verb, spec in aliases.items():
        assert spec.alias_of is not None
        target = COMMANDS[spec.alias_of]
        assert target.alias_of is None, verb
        assert spec.alias_of in HANDLERS
        assert verb not in HANDLERS
        # An alias must be checked exactly like the verb it runs.
        assert (spec.arg, spec.needs_login, spec.writes) == (
            target.arg,
            target.needs_login,
            target.writes,
        ), verb


def test_verbs_allowed_before_login() -> None:
    open_verbs = {verb for verb, spec in COMMANDS.items() if not spec.needs_login}
    assert {"USER", "PASS", "QUIT", "FEAT", "SYST", "NOOP"} <= open_verbs
    # Nothing that touches files or the data channel may run before login.
    assert open_verbs <= {
        *("FEAT", "HELP", "NOOP", "OPTS", "PASS", "QUIT", "REIN", "SYST", "USER"),
        *("AUTH", "CCC", "PBSZ", "PROT"),  # TLS set-up happens before USER
    }


def test_writing_verbs() -> None:
    writers = {verb for verb, spec in COMMANDS.items() if spec.writes}
    assert writers == {
        "APPE",
        "DELE",
        "MFMT",
        "MKD",
        "RMD",
        "RNFR",
        "RNTO",
        "STOR",
        "STOU",
        "XMKD",
        "XRMD",
    }


def test_argument_kinds() -> None:
    assert COMMANDS["PWD"].arg is Arg.NONE
    assert COMMANDS["RETR"].arg is Arg.REQUIRED
    assert COMMANDS["LIST"].arg is Arg.OPTIONAL
    assert COMMANDS["PASS"].arg is Arg.OPTIONAL  # an empty password is a password
    assert COMMANDS["EPSV"].arg is Arg.OPTIONAL


def test_not_implemented_is_disjoint_from_commands() -> None:
    assert NOT_IMPLEMENTED.isdisjoint(COMMANDS)
    assert NOT_IMPLEMENTED.isdisjoint(HANDLERS)
    assert all(verb.isupper() and verb.isalpha() for verb in NOT_IMPLEMENTED)
