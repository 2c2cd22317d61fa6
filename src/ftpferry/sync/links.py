"""Making a plan's symbolic links in a local target, last and beneath its root.

A link is made with the source's target text as it is (``../lib``,
``/etc/passwd``): making a link writes nothing through it, and a mirror
reproduces what the server has, as lftp's does.  What must never happen is
a *write* through a link, and three things see to that:

* the plan removes every link of the target that stands where a file or a
  directory is to go, and the scan of the target never follows one;
* downloads open their file with ``O_NOFOLLOW``
  (``AsyncFTPClient.download(follow_symlinks=False)``);
* links are made here, after every file is written, and each only when
  its parent directory is itself no link: its real path must be the
  root's real path joined with the link's parent path, component by
  component.

:func:`leaves_root` tells which targets point outside the mirror's root
(absolute, or climbing above it with ``..``; ``Link.outside``); they are
made all the same, and the report says so.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .plan import Link, leaves_root
from .report import MirrorError

__all__ = ["LinkResult", "beneath_root", "leaves_root", "make_links"]


def beneath_root(root: Path, relative_dir: str) -> bool:
    """True when ``root/relative_dir`` is a real directory reached through no link."""
    real_root = os.path.realpath(root)
    expected = os.path.join(real_root, *relative_dir.split("/")) if relative_dir else real_root
    directory = os.path.join(root, *relative_dir.split("/")) if relative_dir else str(root)
    return os.path.realpath(directory) == expected and os.path.isdir(directory)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkResult:
    """What :func:`make_links` did: the links made, and the ones that failed."""

    made: tuple[Link, ...]
    errors: tuple[MirrorError, ...]


def _make(root: Path, links: Sequence[Link]) -> LinkResult:
    made: list[Link] = []
    errors: list[MirrorError] = []
    for link in links:
        parent = posixpath.dirname(link.path)
        if not beneath_root(root, parent):
            message = "not made: its directory is missing or reached through a link"
            errors.append(MirrorError(path=link.path, stage="link", message=message))
            continue
        try:
            os.symlink(link.target, os.path.join(root, *link.path.split("/")))
        except OSError as exc:
            message = f"cannot make the link: {exc.strerror or exc}"
            errors.append(MirrorError(path=link.path, stage="link", message=message))
            continue
        made.append(link)
    return LinkResult(made=tuple(made), errors=tuple(errors))


async def make_links(root: Path, links: Sequence[Link]) -> LinkResult:
    """Make ``links`` under ``root`` (in a worker thread: one system call each, or a few)."""
    if not links:
        return LinkResult(made=(), errors=())
    return await asyncio.to_thread(_make, root, links)
