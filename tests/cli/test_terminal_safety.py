"""What a server names reaches the terminal as text, never as escape sequences or markup.

File names come from the server.  ``ls`` and the progress lines used to
print them as they were (an ESC in a name could clear the screen or
retitle the window), and the progress bars read them as rich markup (a
file called ``data[/x].csv`` stopped the download with a MarkupError).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.client.conftest import Remote

from .conftest import Cli, run_on_terminal

pytestmark = pytest.mark.integration

EVIL = "evil\x1b]0;pwned\x07\x1b[2Jname.txt"
SHOWN = "evil\\x1b]0;pwned\\x07\\x1b[2Jname.txt"


def test_ls_and_progress_show_control_characters(cli: Cli, ftpferry: Remote, mode: str) -> None:
    ftpferry.put(f"docs/{EVIL}", b"x")
    listed = cli.ok("ls", "--mode", mode, ftpferry.url(path="docs"))
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert listed.stdout.rstrip().endswith(SHOWN)

    got = cli.ok("get", "--mode", mode, ftpferry.url(path="docs/*name.txt"), cli.cwd)
    assert "\x1b" not in got.stderr and SHOWN in got.stderr
    assert (cli.cwd / EVIL).read_bytes() == b"x"  # the file keeps its real name

    document = cli.ok("ls", "--json", ftpferry.url(path="docs")).json()
    assert [entry["name"] for entry in document["entries"]] == [EVIL]  # JSON as it is


def test_progress_bars_take_names_as_text_not_markup(
    cli: Cli, ftpferry: Remote, tmp_path: Path
) -> None:
    """The bar's label is the path: ``dir [/x] [bold].csv`` holds a closing tag."""
    payload = os.urandom(200_000)
    ftpferry.put("dir [/x] [bold].csv", payload)  # "x] [bold].csv" in "dir ["
    returncode, output = run_on_terminal(
        cli, "get", ftpferry.url(path="dir [/x] [bold].csv"), tmp_path / "got.csv"
    )
    assert returncode == 0, output[-2000:]
    assert b"Traceback" not in output and b"MarkupError" not in output
    assert b"\x1b[?25l" in output  # rich drew its bars on the terminal
    assert (tmp_path / "got.csv").read_bytes() == payload
    assert b"x] [bold].csv" in output  # the name as it is, not styled away
