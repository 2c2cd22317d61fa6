"""Names loaded on first use: the packages still export everything, and a
command line run loads only what its command needs (start-up time)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ftpferry.protocol
import ftpferry.sync
from ftpferry.lazy import lazy_exports


def test_package_names_resolve_to_their_modules() -> None:
    from ftpferry.protocol.framing import LineReader
    from ftpferry.sync.run import mirror

    assert ftpferry.protocol.LineReader is LineReader
    assert ftpferry.sync.mirror is mirror
    for name in ftpferry.protocol.__all__:
        assert getattr(ftpferry.protocol, name) is not None, name
    for name in ftpferry.sync.__all__:
        assert getattr(ftpferry.sync, name) is not None, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"ftpferry\.protocol.*no_such_name"):
        _ = ftpferry.protocol.no_such_name  # type: ignore[attr-defined]
    lookup = lazy_exports("ftpferry.protocol", {})
    with pytest.raises(AttributeError):
        lookup("Reply")


def _modules_after(*argv: str) -> set[str]:
    """The ftpferry modules a command line run has loaded when it ends."""
    # The entry point ends with os._exit (no teardown, no atexit): report from there.
    script = (
        "import os, sys\n"
        "real_exit = os._exit\n"
        "def report(status):\n"
        "    names = [m for m in sys.modules if m.startswith('ftpferry')]\n"
        "    print('LOADED', *names, flush=True)\n"
        "    real_exit(status)\n"
        "os._exit = report\n"
        f"sys.argv = ['ftpferry', *{list(argv)!r}]\n"
        "from ftpferry.launch import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("LOADED "))
    return set(line.split()[1:])


def test_version_loads_no_command() -> None:
    loaded = _modules_after("--version")
    assert not {m for m in loaded if m.startswith(("ftpferry.client", "ftpferry.server"))}


def test_a_client_command_does_not_load_the_server_or_the_mirror_executor() -> None:
    loaded = _modules_after("put", "--help")
    assert "ftpferry.client.asyncclient" in loaded
    assert not {m for m in loaded if m.startswith("ftpferry.server")}
    assert "ftpferry.sync.execute" not in loaded
    assert "ftpferry.protocol.framing" not in loaded  # the server's line framing
