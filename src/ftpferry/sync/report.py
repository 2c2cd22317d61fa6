"""What a mirror run did, and the observer that watches it happen.

The executor reports each file as it starts, advances and ends to a
:class:`MirrorObserver`, so a command line can draw progress bars and a
test can record events, without the executor knowing about either.  When
the run is over it returns one :class:`MirrorReport`, a plain value that
the command line turns into text or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .plan import Link, MirrorPlan, Removal, Transfer

__all__ = [
    "Direction",
    "MirrorError",
    "MirrorObserver",
    "MirrorReport",
    "NullObserver",
    "Stage",
    "TransferOutcome",
]

Direction = Literal["download", "upload"]
Stage = Literal["conflict", "mkdir", "transfer", "remove", "connection", "link"]
"""Where in a run something failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorError:
    """One thing a mirror run could not do.

    Attributes:
        path: the relative path concerned ("" for the root).
        stage: ``conflict`` (left alone without ``--delete``), ``mkdir``,
            ``transfer``, ``remove``, ``connection`` (no connection was
            left to transfer it), or ``link`` (a symbolic link not made).
        message: why, with the server's reply when there was one.
    """

    path: str
    stage: Stage
    message: str

    def __str__(self) -> str:
        return f"{self.path or '.'}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferOutcome:
    """How one file's transfer went.

    Attributes:
        item: the planned transfer.
        direction: ``download`` or ``upload``.
        transferred: bytes moved over the data connection (a resume moves
            only the rest).
        offset: where the transfer started in the file (0 unless resumed).
        seconds: from the transfer command to its final reply.
        mode: ``passive`` or ``active``, when a data connection was made.
        data_command: ``EPSV``, ``PASV``, ``EPRT`` or ``PORT``.
        mtime_set: the copy was given the source's modification time.
        error: why it failed (None on success).
        attempts: 2 when a lost connection was re-opened and the file resumed.
    """

    item: Transfer
    direction: Direction
    transferred: int = 0
    offset: int = 0
    seconds: float = 0.0
    mode: str | None = None
    data_command: str | None = None
    mtime_set: bool = False
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """True when the file arrived."""
        return self.error is None


class MirrorObserver(Protocol):
    """Receives progress events; every method is called in the event loop's thread."""

    def item_started(self, slot: int, item: Transfer) -> None:
        """Worker ``slot`` (0-based) starts ``item``."""

    def item_progress(self, slot: int, item: Transfer, done: int, total: int | None) -> None:
        """``done`` bytes of the file (including a resumed offset) are there."""

    def item_finished(self, slot: int, outcome: TransferOutcome) -> None:
        """The file arrived, or failed (``outcome.error``)."""

    def removed(self, removal: Removal, error: str | None) -> None:
        """A target file or directory was removed (or could not be)."""


class NullObserver:
    """An observer that ignores everything."""

    def item_started(self, slot: int, item: Transfer) -> None:
        """Ignored."""

    def item_progress(self, slot: int, item: Transfer, done: int, total: int | None) -> None:
        """Ignored."""

    def item_finished(self, slot: int, outcome: TransferOutcome) -> None:
        """Ignored."""

    def removed(self, removal: Removal, error: str | None) -> None:
        """Ignored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorReport:
    """Everything one mirror run did.

    Attributes:
        direction: ``download`` (remote to local) or ``upload``.
        plan: what was planned.
        transfers: one outcome per planned transfer, in the order they ended.
        created: directories made (relative paths; "" for the root).
        removed: files and directories removed (``clear`` and ``delete``).
        links: symbolic links made (the plan's ``links`` less failures).
        errors: everything that failed, in the order it did.
        seconds: the whole run, scanning included.
        connections: control connections used for the transfers.
        dry_run: the plan was made and nothing carried out (``--dry-run``).
    """

    direction: Direction
    plan: MirrorPlan
    transfers: tuple[TransferOutcome, ...] = ()
    created: tuple[str, ...] = ()
    removed: tuple[Removal, ...] = ()
    links: tuple[Link, ...] = ()
    errors: tuple[MirrorError, ...] = ()
    seconds: float = 0.0
    connections: int = 1
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.errors

    @property
    def transferred_bytes(self) -> int:
        """Bytes moved over data connections."""
        return sum(outcome.transferred for outcome in self.transfers)

    @property
    def data_commands(self) -> tuple[str, ...]:
        """The distinct data-channel commands used, in order of first use."""
        seen: dict[str, None] = {}
        for outcome in self.transfers:
            if outcome.data_command is not None:
                seen.setdefault(outcome.data_command, None)
        return tuple(seen)

    @property
    def modes(self) -> tuple[str, ...]:
        """The distinct modes used (``passive``, ``active``)."""
        seen: dict[str, None] = {}
        for outcome in self.transfers:
            if outcome.mode is not None:
                seen.setdefault(outcome.mode, None)
        return tuple(seen)
