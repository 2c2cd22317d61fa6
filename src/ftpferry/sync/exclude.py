"""What ``mirror --exclude`` leaves out: glob patterns over paths relative to the root.

The rules are rsync's simplest ones, which is what people type without
reading a manual:

* a pattern without ``/`` matches a name at any depth: ``*.tmp``,
  ``.git``, ``node_modules``;
* a pattern with ``/`` inside matches the whole path from the mirror's root,
  one path segment per pattern segment (``*`` never crosses a ``/``):
  ``logs/*.gz`` leaves out ``logs/a.gz`` but not ``logs/old/a.gz``; a
  leading ``/`` changes nothing (every such pattern starts at the root);
* a trailing ``/`` makes a pattern match directories only: ``cache/``.

``*``, ``?`` and ``[...]`` are :mod:`fnmatch`'s, case-sensitive.  An
excluded directory is not listed or walked at all, on either side, so
nothing below it is sent, and ``--delete`` removes nothing below it on the
target either: what is excluded is left as it is, and so are the target
directories that hold it (the planner keeps them; see ``Tree.excluded``).

Pure: paths in, booleans out.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

__all__ = ["Exclusions"]


class Exclusions:
    """A set of ``--exclude`` patterns (see the module docstring)."""

    __slots__ = ("_patterns", "_texts")

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        texts: list[str] = []
        compiled: list[tuple[tuple[str, ...], bool, bool]] = []
        for text in patterns:
            body = text.rstrip("/")
            dirs_only = body != text
            anchored = "/" in body
            segments = tuple(body.lstrip("/").split("/")) if anchored else (body,)
            if not body.strip("/") or any(not segment for segment in segments):
                raise ValueError(f"{text!r} is not a name or a path pattern")
            texts.append(text)
            compiled.append((segments, anchored, dirs_only))
        self._texts = tuple(texts)
        self._patterns = tuple(compiled)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def __repr__(self) -> str:
        return f"Exclusions({list(self._texts)!r})"

    @property
    def patterns(self) -> tuple[str, ...]:
        """The patterns as given."""
        return self._texts

    def excludes(self, path: str, *, is_dir: bool) -> bool:
        """True when the entry at ``path`` (``/``-separated, relative) is left out."""
        segments: list[str] | None = None
        name = path.rpartition("/")[2]
        for pattern, anchored, dirs_only in self._patterns:
            if dirs_only and not is_dir:
                continue
            if not anchored:
                if fnmatchcase(name, pattern[0]):
                    return True
                continue
            if segments is None:
                segments = path.split("/")
            if len(segments) == len(pattern) and all(
                fnmatchcase(segment, part) for segment, part in zip(segments, pattern, strict=True)
            ):
                return True
        return False
