"""The ``ftpferry`` command line: one click group, one module per command family.

``serve`` and ``hash-password`` run the server side; the client commands
(``ls``, ``get``, ``put``, ``mirror``, ``rm``, ``mkdir``, ``mv``) and
``doctor`` live in their own modules and are added here.
"""

from __future__ import annotations

import click

from ftpferry import __version__

from .client_commands import CLIENT_COMMANDS
from .doctor import DOCTOR_COMMANDS
from .serve import hash_password_command, serve

__all__ = ["main"]


@click.group()
@click.version_option(__version__, prog_name="ftpferry")
def main() -> None:
    """ftpferry: an FTP server and client whose data channel just works."""


for command in (serve, hash_password_command, *CLIENT_COMMANDS, *DOCTOR_COMMANDS):
    main.add_command(command)
