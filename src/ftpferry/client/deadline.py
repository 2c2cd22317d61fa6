"""A per-connection time limit that costs nothing while it is not reached.

``async with asyncio.timeout(t)`` around every reply puts a timer on the
event loop's heap and takes it off again: a mirror of two thousand small
files does that tens of thousands of times for limits of many seconds
that are almost never reached.  A :class:`Deadline` instead keeps *one*
timer per connection and moves only a number per wait.  When the timer
fires early (the waits since it was set ended and a new one began), it is
set again for the current wait's deadline; so it fires about once per
time limit, not once per wait.
"""

from __future__ import annotations

import asyncio

__all__ = ["Deadline"]

_EARLY = 0.001
"""The loop runs a timer up to its clock resolution early; that is on time."""


class Deadline:
    """Fails the one future being waited on once its time limit passes."""

    __slots__ = ("_due", "_loop", "_timer", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._due = 0.0

    def watch(self, waiter: asyncio.Future[None], seconds: float) -> None:
        """Set ``TimeoutError`` on ``waiter`` if it is still pending ``seconds`` from now."""
        self._waiter = waiter
        self._due = due = self._loop.time() + seconds
        timer = self._timer
        if timer is not None:
            if timer.when() <= due:
                return
            timer.cancel()
        self._timer = self._loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._loop.time() >= self._due - _EARLY:
            waiter.set_exception(TimeoutError())
        else:
            self._timer = self._loop.call_at(self._due, self._fire)

    def cancel(self) -> None:
        """Stop for good (the connection is closing)."""
        self._waiter = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
