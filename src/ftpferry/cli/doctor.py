"""``ftpferry doctor URL``: the command-line face of :mod:`ftpferry.doctor`.

Filled in by the doctor work; :data:`DOCTOR_COMMANDS` lists its click
commands, which the group in ``cli/__init__`` adds.
"""

from __future__ import annotations

import click

__all__ = ["DOCTOR_COMMANDS"]

DOCTOR_COMMANDS: list[click.Command] = []
