"""Virtual paths: what the client names, resolved inside the user's root.

A virtual path is an absolute POSIX path where ``/`` is the user's root.  It
is computed purely from the current directory and the argument, so ``..``
can never climb above ``/`` whatever its spelling: ``../../etc``,
``/../..``, ``..\\..\\etc`` (backslashes are treated as separators, as
Windows clients mean them) or ``a/./../..``.  NUL bytes and undecodable
bytes are refused here.  Symlinks are the storage backend's job, since only
it can see them.
"""

from __future__ import annotations

import posixpath

__all__ = ["PathError", "join_virtual", "resolve", "virtual_name"]


class PathError(ValueError):
    """A path argument that cannot name anything (NUL byte, bad encoding, empty)."""


def resolve(cwd: str, argument: str) -> str:
    """Resolve ``argument`` against ``cwd`` into a normalized virtual path.

    The result always starts with ``/`` and contains no ``.`` or ``..``
    components, even if ``cwd`` is not normalized (an empty argument yields
    the normalized ``cwd``).  ``cwd`` gets the same backslash, NUL and
    encoding treatment as the argument, so the result is safe whatever the
    caller passes.
    """
    text = argument.replace("\\", "/")
    combined = text if text.startswith("/") else posixpath.join(cwd.replace("\\", "/"), text)
    if "\x00" in combined:
        raise PathError("path contains a NUL byte")
    try:
        combined.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PathError("path is not valid UTF-8") from exc
    parts: list[str] = []
    for part in combined.split("/"):
        if part in {"", "."}:
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def join_virtual(directory: str, name: str) -> str:
    """Join a virtual directory and a single file name."""
    return directory.rstrip("/") + "/" + name


def virtual_name(path: str) -> str:
    """The last component of a virtual path (``/`` for the root)."""
    return posixpath.basename(path) or "/"
