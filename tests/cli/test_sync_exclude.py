"""``mirror --exclude`` patterns: names anywhere, paths from the root, directories only."""

from __future__ import annotations

import pytest

from ftpferry.sync.exclude import Exclusions


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "excluded"),
    [
        # no slash: a name at any depth, files and directories alike
        ("*.tmp", "a.tmp", False, True),
        ("*.tmp", "deep/down/b.tmp", False, True),
        ("*.tmp", "a.tmp.keep", False, False),
        (".git", ".git", True, True),
        (".git", "sub/.git", True, True),
        (".git", "sub/.github", True, False),
        ("node_modules", "web/node_modules", True, True),
        ("*.TMP", "a.tmp", False, False),  # case-sensitive, as file systems are
        ("?.txt", "a.txt", False, True),
        ("[ab].txt", "c.txt", False, False),
        ("ünïcödé", "x/ünïcödé", True, True),
        # a slash inside: the whole path from the root, segment by segment
        ("logs/*.gz", "logs/a.gz", False, True),
        ("logs/*.gz", "logs/old/a.gz", False, False),  # * never crosses a /
        ("logs/*.gz", "other/logs/a.gz", False, False),  # anchored at the root
        ("/logs/*.gz", "logs/a.gz", False, True),  # a leading / changes nothing
        ("*/cache", "web/cache", True, True),
        ("*/cache", "cache", True, False),
        # a trailing slash: directories only
        ("cache/", "cache", True, True),
        ("cache/", "cache", False, False),
        ("cache/", "a/cache", True, True),
        ("build/out/", "build/out", True, True),
        ("build/out/", "build/out", False, False),
    ],
)
def test_patterns(pattern: str, path: str, is_dir: bool, excluded: bool) -> None:
    assert Exclusions([pattern]).excludes(path, is_dir=is_dir) is excluded


def test_any_pattern_matching_excludes() -> None:
    exclusions = Exclusions(["*.tmp", "logs/", "docs/draft.md"])
    assert exclusions.patterns == ("*.tmp", "logs/", "docs/draft.md")
    assert exclusions.excludes("x.tmp", is_dir=False)
    assert exclusions.excludes("logs", is_dir=True)
    assert exclusions.excludes("docs/draft.md", is_dir=False)
    assert not exclusions.excludes("docs/final.md", is_dir=False)
    assert not exclusions.excludes("logs", is_dir=False)


def test_no_patterns_exclude_nothing_and_are_false() -> None:
    assert not Exclusions()
    assert Exclusions(["a"])
    assert not Exclusions().excludes("anything", is_dir=False)


@pytest.mark.parametrize("bad", ["", "/", "//", "a//b", "x//y/"])
def test_empty_patterns_and_segments_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a name or a path pattern"):
        Exclusions([bad])
