"""Progress on stderr: rich bars on a terminal, one plain line per file otherwise.

A terminal gets bars with rate and ETA (one per connection, and one for
the whole run when there is more than one file).  Anything else (a pipe, a
log file, CI) gets one line per finished file: redrawn bars would be noise
there, and a line per file is what a log reader greps.  ``--quiet`` shows
neither.  Every view also carries the ``-v`` dialogue lines, because on a
terminal they must be printed through rich to appear above the bars
instead of through them.

The views implement :class:`ftpferry.sync.MirrorObserver`; ``get`` and
``put`` report their one file through the same methods.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, TextIO

from ftpferry.printable import printable

if TYPE_CHECKING:
    from rich.progress import TaskID

    from ftpferry.sync import Removal, Transfer, TransferOutcome

__all__ = [
    "PlainProgress",
    "ProgressView",
    "QuietProgress",
    "RichProgress",
    "format_bytes",
    "format_rate",
    "make_progress",
]


def format_bytes(count: int) -> str:
    """``1234567`` -> ``1,234,567 bytes``."""
    return f"{count:,} byte{'s' if count != 1 else ''}"


def format_rate(count: int, seconds: float) -> str:
    """Decimal megabytes per second (as curl and the benchmark report them)."""
    if seconds <= 0:
        return "- MB/s"
    return f"{count / seconds / 1e6:,.1f} MB/s"


def finished_line(outcome: TransferOutcome) -> str:
    """The plain one-line account of a finished file."""
    item = outcome.item
    if outcome.error is not None:
        return f"failed {item.path}: {outcome.error}"
    verb = "downloaded" if outcome.direction == "download" else "uploaded"
    if outcome.transferred == 0 and outcome.data_command is None:
        return f"complete already {item.path} ({format_bytes(outcome.offset)})"
    if outcome.offset:
        verb = f"resumed at {outcome.offset:,}, {verb}"
    via = f", {outcome.data_command}" if outcome.data_command else ""
    return (
        f"{verb} {item.path}: {format_bytes(outcome.transferred)} in {outcome.seconds:.2f} s "
        f"({format_rate(outcome.transferred, outcome.seconds)}{via})"
    )


def removed_line(removal: Removal, error: str | None) -> str:
    """The plain one-line account of a removal."""
    kind = {"dir": "directory", "link": "symbolic link"}.get(removal.kind, "file")
    if error is not None:
        return f"failed to delete {kind} {removal.path}: {error}"
    return f"deleted {kind} {removal.path}"


class ProgressView(Protocol):
    """What the commands report to (a :class:`ftpferry.sync.MirrorObserver`, and more)."""

    def begin(self, *, files: int, total_bytes: int) -> None:
        """The whole run: how many files and bytes are to come."""

    def item_started(self, slot: int, item: Transfer) -> None:
        """Connection ``slot`` starts a file."""

    def item_progress(self, slot: int, item: Transfer, done: int, total: int | None) -> None:
        """``done`` bytes of the file are there (a resumed offset included)."""

    def item_finished(self, slot: int, outcome: TransferOutcome) -> None:
        """A file arrived or failed."""

    def removed(self, removal: Removal, error: str | None) -> None:
        """A target entry was removed (or not)."""

    def message(self, text: str) -> None:
        """A line for the user (summaries, warnings, the ``-v`` dialogue)."""

    def close(self) -> None:
        """Stop drawing; later messages go straight to stderr."""


class QuietProgress:
    """No progress at all; messages (warnings, ``-v``) still reach stderr."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def begin(self, *, files: int, total_bytes: int) -> None:
        """Ignored."""

    def item_started(self, slot: int, item: Transfer) -> None:
        """Ignored."""

    def item_progress(self, slot: int, item: Transfer, done: int, total: int | None) -> None:
        """Ignored."""

    def item_finished(self, slot: int, outcome: TransferOutcome) -> None:
        """Ignored, but a failure is still said."""
        if outcome.error is not None:
            self.message(finished_line(outcome))

    def removed(self, removal: Removal, error: str | None) -> None:
        """Ignored, but a failure is still said."""
        if error is not None:
            self.message(removed_line(removal, error))

    def message(self, text: str) -> None:
        """Written to stderr, control characters shown (see :mod:`ftpferry.printable`)."""
        stream = self._stream or sys.stderr
        stream.write(printable(text) + "\n")
        stream.flush()

    def close(self) -> None:
        """Nothing to stop."""


class PlainProgress(QuietProgress):
    """One line per finished file or removal, for logs and pipes."""

    def item_finished(self, slot: int, outcome: TransferOutcome) -> None:
        """``downloaded a/b.txt: 1,234 bytes in 0.01 s (0.1 MB/s, EPSV)``."""
        self.message(finished_line(outcome))

    def removed(self, removal: Removal, error: str | None) -> None:
        """``deleted file a/old.txt``."""
        self.message(removed_line(removal, error))


class RichProgress:
    """Bars on a terminal: one per connection, plus a total for several files."""

    def __init__(self, stream: TextIO) -> None:
        # rich is imported only here: a pipe or a log file never needs it,
        # and a client command's start-up time is part of every transfer.
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text  # noqa: PLC0415

        self._text = Text
        self._console = Console(file=stream)
        self._progress = Progress(
            # Descriptions are file names: literal text, never rich markup
            # (a name such as "data[/x].csv" is not a closing tag).
            TextColumn("{task.description}", markup=False, table_column=None),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._slots: dict[int, TaskID] = {}
        self._seen: dict[int, int] = {}
        self._overall: TaskID | None = None
        self._files = 0
        self._finished = 0
        self._progress.start()

    @staticmethod
    def _label(path: str, width: int = 40) -> str:
        shown = printable(path)
        return shown if len(shown) <= width else "…" + shown[-(width - 1) :]

    def _overall_label(self) -> str:
        return f"total {self._finished}/{self._files} files"

    def begin(self, *, files: int, total_bytes: int) -> None:
        """Add the total bar when more than one file is to come."""
        self._files = files
        if files > 1 and self._overall is None:
            self._overall = self._progress.add_task(self._overall_label(), total=total_bytes)

    def item_started(self, slot: int, item: Transfer) -> None:
        """Re-use the slot's bar for the new file."""
        label = self._label(item.path)
        task = self._slots.get(slot)
        if task is None:
            self._slots[slot] = self._progress.add_task(
                label, total=item.size, completed=item.offset
            )
        else:
            self._progress.reset(
                task, description=label, total=item.size, completed=item.offset, visible=True
            )
        self._seen[slot] = item.offset

    def item_progress(self, slot: int, item: Transfer, done: int, total: int | None) -> None:
        """Move the slot's bar, and the total by the same amount."""
        task = self._slots.get(slot)
        if task is None:
            return
        self._progress.update(task, completed=done, total=total)
        if self._overall is not None:
            self._progress.advance(self._overall, done - self._seen.get(slot, 0))
        self._seen[slot] = done

    def item_finished(self, slot: int, outcome: TransferOutcome) -> None:
        """Count the file; say failures above the bars."""
        self._finished += 1
        if self._overall is not None:
            self._progress.update(self._overall, description=self._overall_label())
        if outcome.error is not None:
            self.message(finished_line(outcome))

    def removed(self, removal: Removal, error: str | None) -> None:
        """Say it above the bars."""
        self.message(removed_line(removal, error))

    def message(self, text: str) -> None:
        """Printed above the bars, without rich markup."""
        self._console.print(self._text(printable(text)), highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Stop the live display (the last state stays on screen)."""
        self._progress.stop()


def make_progress(*, quiet: bool, stream: TextIO | None = None, bars: bool = True) -> ProgressView:
    """The right view for stderr: rich on a terminal, plain lines otherwise.

    ``bars=False`` gives plain lines on a terminal too (``get URL -`` when
    the file itself is being shown on that terminal).
    """
    target = stream or sys.stderr
    if quiet:
        return QuietProgress(target)
    if bars and target.isatty():
        return RichProgress(target)
    return PlainProgress(target)
