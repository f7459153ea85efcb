"""Waiting for a condition with a deadline: the one way tests synchronize with servers.

A deadline is a bound for failure, not a measurement: it only has to be one that a loaded
machine never misses. The default is the slowest case measured, a tiny model's load (9-22 s on
a loaded 2-CPU machine), with margin. A test that checks a bound the service promises measures
the elapsed time itself and asserts on that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_S = 0.05
WAIT_S = 60.0


def wait_until(condition: Callable[[], T], what: str, timeout: float = WAIT_S) -> T:
    """Returns the condition's first truthy value; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(POLL_S)  # the poll interval of a bounded wait on a condition


async def async_wait_until(
    condition: Callable[[], Awaitable[T]], what: str, timeout: float = WAIT_S
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        await asyncio.sleep(POLL_S)  # the poll interval of a bounded wait on a condition
