"""The control connection's one lazy timer (:class:`ftpferry.client.deadline.Deadline`),
on a real event loop: it fails the awaited future on time, moves earlier for
a shorter limit, and lets a limit that was not reached pass without a trace."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from ftpferry.client.deadline import Deadline

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_a_wait_past_its_limit_fails_on_time() -> None:
    async def go() -> float:
        loop = asyncio.get_running_loop()
        deadline = Deadline(loop)
        waiter: asyncio.Future[None] = loop.create_future()
        started = loop.time()
        deadline.watch(waiter, 0.05)
        with pytest.raises(TimeoutError):
            await waiter
        return loop.time() - started

    assert 0.04 <= run(go()) < 1.0


def test_a_shorter_limit_moves_the_timer_earlier() -> None:
    async def go() -> float:
        loop = asyncio.get_running_loop()
        deadline = Deadline(loop)
        first: asyncio.Future[None] = loop.create_future()
        deadline.watch(first, 5.0)
        first.set_result(None)
        second: asyncio.Future[None] = loop.create_future()
        started = loop.time()
        deadline.watch(second, 0.05)
        with pytest.raises(TimeoutError):
            await second
        return loop.time() - started

    assert run(go()) < 1.0  # not the first wait's 5 s


def test_a_timer_that_fires_early_is_set_again_for_the_current_wait() -> None:
    async def go() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        deadline = Deadline(loop)
        first: asyncio.Future[None] = loop.create_future()
        deadline.watch(first, 0.05)  # the timer is set for 0.05 s from now
        first.set_result(None)
        second: asyncio.Future[None] = loop.create_future()
        started = loop.time()
        deadline.watch(second, 0.3)  # later: the timer stays, then moves on
        await asyncio.sleep(0.1)
        survived = not second.done()  # the early firing did not fail it
        with pytest.raises(TimeoutError):
            await second
        return survived, loop.time() - started

    survived, elapsed = run(go())
    assert survived
    assert 0.25 <= elapsed < 2.0


def test_a_finished_wait_is_left_alone_and_cancel_stops_the_timer() -> None:
    async def go() -> bool:
        loop = asyncio.get_running_loop()
        deadline = Deadline(loop)
        waiter: asyncio.Future[None] = loop.create_future()
        deadline.watch(waiter, 0.02)
        waiter.set_result(None)
        await asyncio.sleep(0.05)  # the timer fires and finds nothing to do
        later: asyncio.Future[None] = loop.create_future()
        deadline.watch(later, 0.02)
        deadline.cancel()
        await asyncio.sleep(0.05)
        return later.done()

    assert run(go()) is False
