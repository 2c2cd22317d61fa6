"""The ``ftpferry`` command line: one click group, one module per command family.

``serve`` and ``hash-password`` run the server side (:mod:`.serve`); the
client commands (``ls``, ``get``, ``put``, ``mirror``, ``rm``, ``mkdir``,
``mv``) live in :mod:`.client_commands` and ``doctor`` in :mod:`.doctor`.
A command's module is imported only when that command runs (or ``--help``
lists them all): ``ftpferry get`` should not pay for loading the server.
"""

from __future__ import annotations

import importlib
from typing import Final

import click

from ftpferry import __version__

__all__ = ["main"]

COMMAND_HOMES: Final = {
    "serve": ("serve", "serve"),
    "hash-password": ("serve", "hash_password_command"),
    "ls": ("client_commands", "ls"),
    "get": ("client_commands", "get"),
    "put": ("client_commands", "put"),
    "mirror": ("client_commands", "mirror"),
    "rm": ("client_commands", "rm"),
    "mkdir": ("client_commands", "mkdir"),
    "mv": ("client_commands", "mv"),
    "doctor": ("doctor", "doctor"),
}
"""Command name -> (module in this package, attribute holding the command)."""


class LazyGroup(click.Group):
    """A group that imports a command's module when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_HOMES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        home = COMMAND_HOMES.get(cmd_name)
        if home is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = home
        module = importlib.import_module(f".{module_name}", __name__)
        command = getattr(module, attribute)
        assert isinstance(command, click.Command) and command.name == cmd_name
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="ftpferry")
def main() -> None:
    """ftpferry: an FTP server and client whose data channel just works."""
