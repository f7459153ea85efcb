"""Waiting for a condition with a deadline: the one way tests synchronize with servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_S = 0.05


def wait_until(condition: Callable[[], T], what: str, timeout: float = 10.0) -> T:
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
    condition: Callable[[], Awaitable[T]], what: str, timeout: float = 10.0
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        await asyncio.sleep(POLL_S)  # the poll interval of a bounded wait on a condition
