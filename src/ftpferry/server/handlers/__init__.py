"""Command handlers, and the explicit table that dispatches to them.

Every verb in :data:`ftpferry.protocol.COMMANDS` (aliases excluded) has
exactly one entry here; a unit test checks that the two tables agree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from . import control, data, files, security

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[["Session", str], Awaitable[None]]

HANDLERS: Final[dict[str, Handler]] = {
    "ABOR": data.abort,
    "ALLO": control.allocate,
    "APPE": data.append,
    "AUTH": security.auth,
    "CCC": security.clear_command_channel,
    "CDUP": files.parent_directory,
    "CWD": files.change_directory,
    "DELE": files.delete,
    "EPRT": data.extended_port,
    "EPSV": data.extended_passive,
    "FEAT": control.features,
    "HELP": control.help_command,
    "LIST": data.list_command,
    "MDTM": files.modification_time,
    "MFMT": files.set_modification_time,
    "MKD": files.make_directory,
    "MLSD": data.machine_list_directory,
    "MLST": files.machine_list_single,
    "MODE": control.mode,
    "NLST": data.name_list,
    "NOOP": control.noop,
    "OPTS": control.options,
    "PASS": control.password,
    "PASV": data.passive,
    "PBSZ": security.protection_buffer_size,
    "PORT": data.port,
    "PROT": security.protection_level,
    "PWD": files.print_directory,
    "QUIT": control.quit_session,
    "REIN": control.reinitialize,
    "REST": data.restart,
    "RETR": data.retrieve,
    "RMD": files.remove_directory,
    "RNFR": files.rename_from,
    "RNTO": files.rename_to,
    "SITE": control.site,
    "SIZE": files.size,
    "STAT": files.status,
    "STOR": data.store,
    "STOU": data.store_unique,
    "STRU": control.structure,
    "SYST": control.system,
    "TYPE": control.transfer_type,
    "USER": control.user,
}
