"""LoopGuard: directory loops found from ``unique`` facts, or from listings alone."""

from __future__ import annotations

import datetime

from ftpferry.client import Entry, EntryKind, Listing
from ftpferry.client.loops import LoopGuard

WHEN = datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.UTC)


def listing(*names: str, size: int = 4096) -> Listing:
    """A listing of directories called ``names``, all alike but for the name."""
    return Listing(
        tuple(Entry(name=name, kind=EntryKind.DIR, size=size, modify=WHEN) for name in names)
    )


def test_a_unique_fact_and_the_same_names_make_a_loop() -> None:
    guard = LoopGuard()
    top = listing("a", "loop")
    assert guard.loop_of("", top, "U1") is None
    assert guard.loop_of("a", listing(), "U2") is None
    assert guard.loop_of("loop", top, "U1") == ""


def test_a_constant_unique_fact_alone_is_not_a_loop() -> None:
    """A server whose ``unique`` is the same for everything would otherwise lose
    every subdirectory."""
    guard = LoopGuard()
    assert guard.loop_of("", listing("a", "b"), "0") is None
    assert guard.loop_of("a", listing("c"), "0") is None
    assert guard.loop_of("a/c", listing(), "0") is None


def test_without_unique_a_listing_met_a_third_time_is_a_loop() -> None:
    guard = LoopGuard()
    top = listing("loop", "x")
    assert guard.loop_of("", top) is None
    assert guard.loop_of("loop", top) is None  # once round: could be a real copy
    assert guard.loop_of("x", listing()) is None
    assert guard.loop_of("loop/loop", top) == "loop"


def test_without_unique_three_links_still_end() -> None:
    """``a``, ``b`` and ``c`` all lead back: the walk ends two levels down on every
    branch (waiting for one step to repeat twice in a row would not end: abcacb...)."""
    guard = LoopGuard()
    top = listing("a", "b", "c")
    assert guard.loop_of("", top) is None
    for first in "abc":
        assert guard.loop_of(first, top) is None
    for first in "abc":
        for second in "abc":
            assert guard.loop_of(f"{first}/{second}", top) == first


def test_without_unique_a_real_nested_tree_is_walked() -> None:
    """``x/x`` holding only ``x`` is a real tree; so is a deep one whose levels differ."""
    guard = LoopGuard()
    assert guard.loop_of("", listing("x")) is None
    assert guard.loop_of("x", listing("x")) is None
    assert guard.loop_of("x/x", listing("y")) is None
    assert guard.loop_of("x/x/y", listing("x", size=0)) is None
    assert guard.loop_of("x/x/y/x", listing()) is None
