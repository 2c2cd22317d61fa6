"""Client commands: ``ls``, ``get``, ``put``, ``mirror``, ``rm``, ``mkdir``, ``mv``.

Filled in by the client command-line work; each command is a click command
listed in :data:`CLIENT_COMMANDS`, which the group in ``cli/__init__`` adds.
"""

from __future__ import annotations

import click

__all__ = ["CLIENT_COMMANDS"]

CLIENT_COMMANDS: list[click.Command] = []
