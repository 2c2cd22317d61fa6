"""Results as text for people and as JSON documents for programs.

Each client command prints exactly one JSON document on stdout with
``--json`` (on failure too, then with ``"ok": false`` and an ``error``
object), so a script can always parse stdout.  Without ``--json``, ``ls``
prints its listing on stdout and the other commands print a summary on
stderr, leaving stdout empty.  Sizes are bytes, times seconds, and
timestamps ISO 8601 in UTC.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftpferry.client import Entry, EntryKind

from .failures import ExitCode, Failure
from .operations import FileResult, ListResult, MkdirResult, MoveResult, RemoveResult
from .progress import format_bytes, format_rate

if TYPE_CHECKING:
    from ftpferry.sync import MirrorPlan, MirrorReport, Transfer, TransferOutcome

__all__ = [
    "Rendered",
    "render_failure",
    "render_file",
    "render_list",
    "render_mirror",
    "render_mkdir",
    "render_move",
    "render_remove",
]

Document = dict[str, Any]

_TYPE_BITS = {
    EntryKind.DIR: stat.S_IFDIR,
    EntryKind.LINK: stat.S_IFLNK,
    EntryKind.FILE: stat.S_IFREG,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """A command's output.

    Attributes:
        document: the JSON document (``--json``).
        lines: stdout lines without ``--json``.
        summary: a line for stderr (unless ``--quiet``), or None.
        warnings: lines for stderr even with ``--quiet`` (failures the
            progress view did not already report).
        exit_code: the process exit code.
    """

    document: Document
    lines: tuple[str, ...] = ()
    summary: str | None = None
    warnings: tuple[str, ...] = ()
    exit_code: ExitCode = ExitCode.OK


# -- ls ------------------------------------------------------------------------------------


def _mode_text(entry: Entry) -> str:
    type_bits = _TYPE_BITS.get(entry.kind, 0)
    octal = entry.facts.get("unix.mode", "")
    if octal and all(char in "01234567" for char in octal):
        return stat.filemode(type_bits | int(octal, 8) & 0o7777)
    letter = {EntryKind.DIR: "d", EntryKind.LINK: "l", EntryKind.FILE: "-"}.get(entry.kind, "?")
    return letter + "?" * 9


def entry_document(entry: Entry) -> Document:
    """One listing entry for JSON."""
    return {
        "name": entry.name,
        "kind": str(entry.kind),
        "size": entry.size,
        "modify": entry.modify.isoformat() if entry.modify is not None else None,
        "mode": entry.facts.get("unix.mode"),
        "target": entry.target,
    }


def render_list(url: str, result: ListResult) -> Rendered:
    """``ls``: a long listing, directories marked with ``/``, links with ``-> target``."""
    entries = sorted(result.listing, key=lambda entry: entry.name)
    sizes = [f"{e.size:,}" if e.size is not None and not e.is_dir else "-" for e in entries]
    width = max((len(size) for size in sizes), default=1)
    lines = []
    for entry, size in zip(entries, sizes, strict=True):
        when = entry.modify.strftime("%Y-%m-%d %H:%M:%S") if entry.modify else "-" * 19
        name = entry.name + ("/" if entry.is_dir else "")
        if entry.is_link and entry.target:
            name += f" -> {entry.target}"
        lines.append(f"{_mode_text(entry)}  {size:>{width}}  {when}  {name}")
    lines += [f"? {line}" for line in result.listing.unparsed]
    document: Document = {
        "command": "ls",
        "ok": True,
        "url": url,
        "path": result.path,
        "source": result.listing.source,
        "entries": [entry_document(entry) for entry in entries],
        "unparsed": list(result.listing.unparsed),
    }
    return Rendered(document=document, lines=tuple(lines))


# -- get and put ---------------------------------------------------------------------------


def outcome_document(outcome: TransferOutcome) -> Document:
    """One file of a transfer for JSON."""
    item = outcome.item
    return {
        "path": item.path,
        "reason": item.reason,
        "size": item.size,
        "bytes": outcome.transferred,
        "offset": outcome.offset,
        "seconds": round(outcome.seconds, 6),
        "mode": outcome.mode,
        "data_command": outcome.data_command,
        "mtime_set": outcome.mtime_set,
        "error": outcome.error,
    }


def _file_document(result: FileResult) -> Document:
    return {
        **outcome_document(result.outcome),
        "remote": result.remote,
        "local": str(result.local),
        "size": result.size,
    }


def render_files(
    command: str, url: str, direction: str, results: tuple[FileResult, ...]
) -> Rendered:
    """``get PATTERN``/``put SRC... DIR``: each file as in :func:`render_file`'s
    ``files``, and the totals."""
    moved = sum(result.outcome.transferred for result in results)
    document: Document = {
        "command": command,
        "ok": True,
        "url": url,
        "direction": direction,
        "count": len(results),
        "bytes": moved,
        "files": [_file_document(result) for result in results],
    }
    seconds = sum(result.outcome.seconds for result in results)
    verb = "downloaded" if direction == "download" else "uploaded"
    summary = f"{command}: {verb} {_plural(len(results), 'file')} ({format_bytes(moved)})"
    if moved and seconds > 0:
        summary += f" in {seconds:.2f} s ({format_rate(moved, seconds)})"
    return Rendered(document=document, summary=summary)


def render_file(command: str, url: str, result: FileResult) -> Rendered:
    """``get``/``put``: the one file, bytes moved and how."""
    outcome = result.outcome
    document: Document = {
        "command": command,
        "ok": True,
        "url": url,
        "direction": outcome.direction,
        "remote": result.remote,
        "local": str(result.local),
        "size": result.size,
        "bytes": outcome.transferred,
        "offset": outcome.offset,
        "transfer_seconds": round(outcome.seconds, 6),
        "skipped": outcome.transferred == 0 and outcome.data_command is None,
        "mode": outcome.mode,
        "data_command": outcome.data_command,
        "mtime_set": outcome.mtime_set,
        "files": [_file_document(result)],
    }
    # The progress view already said how the file went.
    return Rendered(document=document)


# -- mirror --------------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _mirror_document(url: str, local: str, report: MirrorReport) -> Document:
    """What the documents of a run and of a dry run share: which mirror, and what
    its plan leaves alone (unchanged, skipped, conflicts)."""
    plan = report.plan
    return {
        "command": "mirror",
        "ok": report.ok,
        "direction": report.direction,
        "url": url,
        "local": local,
        "unchanged": len(plan.unchanged),
        "skipped": [
            {"path": item.path, "kind": item.kind, "reason": item.reason} for item in plan.skipped
        ],
        "conflicts": [{"path": c.path, "reason": c.reason} for c in plan.conflicts],
    }


def _mirror_summary(plan: MirrorPlan, totals: str) -> str:
    """What was left alone, and why, before the totals: not failures, but worth a look."""
    return "\n".join([*(f"skipped {item.path}: {item.reason}" for item in plan.skipped), totals])


def render_mirror(url: str, local: str, parallel: int, report: MirrorReport) -> Rendered:
    """``mirror``: every file sent, links made, what was created, removed or skipped,
    and failures."""
    if report.dry_run:
        return _render_mirror_plan(url, local, report)
    plan = report.plan
    modes = report.modes
    sent = sum(1 for outcome in report.transfers if outcome.ok)
    document: Document = {
        **_mirror_document(url, local, report),
        "parallel": parallel,
        "connections": report.connections,
        "files": [outcome_document(outcome) for outcome in report.transfers],
        "transferred": sent,
        "created": list(report.created),
        "deleted": [{"path": removal.path, "kind": removal.kind} for removal in report.removed],
        "links": [
            {
                "path": link.path,
                "target": link.target,
                "reason": link.reason,
                "outside": link.outside,
            }
            for link in report.links
        ],
        "links_unchanged": len(plan.unchanged_links),
        "errors": [
            {"path": error.path, "stage": error.stage, "message": error.message}
            for error in report.errors
        ],
        "bytes": report.transferred_bytes,
        "mirror_seconds": round(report.seconds, 6),
        "mode": modes[0] if len(modes) == 1 else (list(modes) or None),
        "data_command": (
            report.data_commands[0]
            if len(report.data_commands) == 1
            else (list(report.data_commands) or None)
        ),
    }
    verb = "downloaded" if report.direction == "download" else "uploaded"
    parts = [
        f"{verb} {_plural(sent, 'file')} ({format_bytes(report.transferred_bytes)})",
        f"{len(plan.unchanged)} unchanged",
    ]
    if report.links:
        parts.append(f"{_plural(len(report.links), 'symbolic link')} made")
    if report.removed:
        parts.append(f"{len(report.removed)} deleted")
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} skipped")
    if report.errors:
        parts.append(f"{len(report.errors)} failed")
    summary = _mirror_summary(
        plan,
        f"mirror: {', '.join(parts)} in {report.seconds:.2f} s "
        f"({format_rate(report.transferred_bytes, report.seconds)}, "
        f"{_plural(report.connections, 'connection')})",
    )
    # Failed transfers and removals were reported by the progress view as they happened.
    warnings = tuple(
        f"{error}" for error in report.errors if error.stage not in {"transfer", "remove"}
    )
    return Rendered(
        document=document,
        summary=summary,
        warnings=warnings,
        exit_code=ExitCode.OK if report.ok else ExitCode.FAILED,
    )


# -- rm, mkdir, mv -------------------------------------------------------------------------


def render_remove(url: str, result: RemoveResult) -> Rendered:
    """``rm``: what was removed."""
    document: Document = {
        "command": "rm",
        "ok": True,
        "url": url,
        "removed": [
            {"path": removal.path, "kind": "dir" if removal.is_dir else "file"}
            for removal in result.removed
        ],
    }
    count = len(result.removed)
    return Rendered(
        document=document, summary=f"removed {count} entr{'y' if count == 1 else 'ies'}"
    )


def render_mkdir(url: str, result: MkdirResult) -> Rendered:
    """``mkdir``: the directories created."""
    document: Document = {
        "command": "mkdir",
        "ok": True,
        "url": url,
        "path": result.path,
        "created": list(result.created),
    }
    summary = f"created {', '.join(result.created)}" if result.created else "exists already"
    return Rendered(document=document, summary=summary)


def render_move(url: str, result: MoveResult) -> Rendered:
    """``mv``: from where to where."""
    document: Document = {
        "command": "mv",
        "ok": True,
        "url": url,
        "from": result.source,
        "to": result.target,
    }
    return Rendered(document=document, summary=f"renamed {result.source} to {result.target}")


# -- failures ------------------------------------------------------------------------------


def render_failure(command: str, url: str | None, failure: Failure) -> Document:
    """The JSON document of a command that failed."""
    return {
        "command": command,
        "ok": False,
        "url": url,
        "error": {
            "kind": failure.kind,
            "message": failure.message,
            "code": failure.code,
            "exit_code": int(failure.exit_code),
        },
    }


def _render_mirror_plan(url: str, local: str, report: MirrorReport) -> Rendered:
    """``mirror --dry-run``: what a run would do, one line per action, in the order
    the run would do it (see :mod:`ftpferry.sync.plan`)."""
    plan = report.plan
    verb = "download" if report.direction == "download" else "upload"
    cleared = [(removal.path, removal.kind) for removal in plan.clear]
    deleted = [(path, "file") for path in plan.delete_files]
    deleted += [(path, "dir") for path in plan.delete_dirs]
    removals = cleared + deleted
    lines = [
        *(["would create the target directory"] if plan.create_root else []),
        *(f"would remove {kind} {path}" for path, kind in cleared),
        *(f"would create directory {path}" for path in plan.mkdirs),
        *(
            f"would {verb} {item.path} ({_planned_size(item)}, {item.reason})"
            for item in plan.transfers
        ),
        *(f"would remove {kind} {path}" for path, kind in deleted),
        *(f"would link {link.path} -> {link.target}" for link in plan.links),
    ]
    document: Document = {
        **_mirror_document(url, local, report),
        "dry_run": True,
        "create_root": plan.create_root,
        "mkdirs": list(plan.mkdirs),
        "files": [
            {"path": item.path, "size": item.size, "offset": item.offset, "reason": item.reason}
            for item in plan.transfers
        ],
        "bytes": plan.transfer_bytes,
        "delete": [{"path": path, "kind": kind} for path, kind in removals],
        "links": [
            {"path": link.path, "target": link.target, "reason": link.reason} for link in plan.links
        ],
    }
    parts = [
        f"would {verb} {_plural(len(plan.transfers), 'file')} "
        f"({format_bytes(plan.transfer_bytes)})",
        f"{len(plan.unchanged)} unchanged",
    ]
    if removals:
        parts.append(f"would remove {len(removals)}")
    if plan.links:
        parts.append(f"would make {_plural(len(plan.links), 'symbolic link')}")
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} skipped")
    summary = _mirror_summary(plan, f"mirror (dry run, nothing changed): {', '.join(parts)}")
    return Rendered(
        document=document,
        lines=tuple(lines),
        summary=summary,
        warnings=tuple(str(error) for error in report.errors),
        exit_code=ExitCode.OK if report.ok else ExitCode.FAILED,
    )


def _planned_size(item: Transfer) -> str:
    if item.size is None:
        return "size unknown"
    if item.offset:
        return f"{format_bytes(item.remaining)} from byte {item.offset:,}"
    return format_bytes(item.size)
