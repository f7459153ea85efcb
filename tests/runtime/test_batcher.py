"""The batcher merges concurrent requests, computes duplicates once, and keeps order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from mlapi.batcher import Batcher
from mlapi.errors import ModelFailure, Overloaded


class Recorder:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[list[str]] = []
        self.delay_s = delay_s

    async def __call__(self, texts: list[str]) -> Sequence[str | Exception]:
        self.calls.append(texts)
        await asyncio.sleep(self.delay_s)
        return [text.upper() for text in texts]


def run(runner: Recorder, requests: list[list[str]], **options: float) -> list[list[str]]:
    async def scenario() -> list[list[str]]:
        batcher = Batcher(
            runner,
            concurrency=int(options.get("concurrency", 1)),
            max_batch_size=int(options.get("max_batch_size", 8)),
            max_wait_ms=options.get("max_wait_ms", 20),
            max_queue=64,
        )
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(texts) for texts in requests))
        finally:
            await batcher.close(timeout=5)

    return asyncio.run(scenario())


def test_concurrent_requests_share_batches_and_keep_order() -> None:
    runner = Recorder()
    requests = [["a", "b"], ["c"], ["b", "d", "a"]]
    results = run(runner, requests)
    assert results == [["A", "B"], ["C"], ["B", "D", "A"]]
    assert len(runner.calls) == 1
    assert sorted(runner.calls[0]) == ["a", "b", "c", "d"]  # duplicates computed once


def test_batches_never_exceed_max_batch_size() -> None:
    runner = Recorder(delay_s=0.01)
    run(runner, [[f"t{i}"] for i in range(20)], max_batch_size=3)
    assert all(len(call) <= 3 for call in runner.calls)
    assert sum(len(call) for call in runner.calls) == 20


def test_a_failed_batch_fails_every_waiter() -> None:
    async def broken(texts: list[str]) -> Sequence[str | Exception]:
        raise ValueError("boom")

    async def scenario() -> list[BaseException | list[str]]:
        batcher: Batcher[str] = Batcher(broken, max_batch_size=8, max_wait_ms=20, max_queue=64)
        batcher.start()
        try:
            return await asyncio.gather(
                batcher.submit(["a"]), batcher.submit(["b"]), return_exceptions=True
            )
        finally:
            await batcher.close(timeout=1)

    results = asyncio.run(scenario())
    assert all(isinstance(result, ModelFailure) for result in results)


def test_close_finishes_queued_work() -> None:
    runner = Recorder(delay_s=0.05)

    async def scenario() -> list[list[str]]:
        batcher = Batcher(runner, max_batch_size=1, max_wait_ms=0, max_queue=64)
        batcher.start()
        pending = [asyncio.create_task(batcher.submit([f"x{i}"])) for i in range(5)]
        await asyncio.sleep(0.01)
        await batcher.close(timeout=5)
        return [task.result() for task in pending]

    assert asyncio.run(scenario()) == [[f"X{i}"] for i in range(5)]


@pytest.mark.parametrize("wait_ms", [0, 5])
def test_results_do_not_depend_on_batching(wait_ms: float) -> None:
    requests = [[f"w{i % 7}", f"v{i}"] for i in range(15)]
    assert run(Recorder(), requests, max_wait_ms=wait_ms, max_batch_size=4) == [
        [text.upper() for text in texts] for texts in requests
    ]


def test_close_past_the_grace_answers_every_waiter() -> None:
    runner = Recorder(delay_s=0.5)

    async def scenario() -> list[BaseException | list[str]]:
        batcher = Batcher(runner, max_batch_size=1, max_wait_ms=0, max_queue=64)
        batcher.start()
        pending = [asyncio.create_task(batcher.submit([f"y{i}"])) for i in range(3)]
        await asyncio.sleep(0.05)  # the first batch is running, two are queued
        await batcher.close(timeout=0.1)
        return await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 2)

    results = asyncio.run(scenario())
    assert all(isinstance(result, Overloaded) for result in results)


def test_batches_run_side_by_side_up_to_the_concurrency() -> None:
    runner = Recorder(delay_s=0.2)
    started = time.perf_counter()
    results = run(runner, [[f"c{i}"] for i in range(4)], max_batch_size=1, concurrency=4)
    assert results == [[f"C{i}"] for i in range(4)]
    assert time.perf_counter() - started < 0.6  # four batches of 0.2 s, not one after another


def test_an_error_for_one_text_fails_only_its_request() -> None:
    class Picky(Recorder):
        async def __call__(self, texts: list[str]) -> Sequence[str | Exception]:
            return [ModelFailure("no") if t == "bad" else t.upper() for t in texts]

    async def scenario() -> list[BaseException | list[str]]:
        batcher: Batcher[str] = Batcher(Picky(), max_batch_size=8, max_wait_ms=20, max_queue=64)
        batcher.start()
        try:
            return await asyncio.gather(
                batcher.submit(["a", "b"]), batcher.submit(["bad"]), return_exceptions=True
            )
        finally:
            await batcher.close(timeout=1)

    ok, failed = asyncio.run(scenario())
    assert ok == ["A", "B"]
    assert isinstance(failed, ModelFailure)


def test_a_text_in_flight_is_queued_once_for_every_request() -> None:
    """A burst of identical texts (a cold cache under 400 connections) takes one queue slot
    per distinct text, so it is not refused as an overload; each text is computed once."""
    runner = Recorder(delay_s=0.05)

    async def scenario() -> list[list[str]]:
        batcher: Batcher[str] = Batcher(
            runner,
            max_batch_size=8,
            max_wait_ms=5,
            max_queue=4,  # < the 600 texts sent
        )
        batcher.start()
        try:
            burst = [["x", "y", "z"] for _ in range(200)]
            return await asyncio.gather(*(batcher.submit(texts) for texts in burst))
        finally:
            await batcher.close(timeout=5)

    results = asyncio.run(scenario())
    assert results == [["X", "Y", "Z"]] * 200
    assert sorted(text for call in runner.calls for text in call) == ["x", "y", "z"]


def test_a_cancelled_request_does_not_cancel_the_text_for_others() -> None:
    runner = Recorder(delay_s=0.05)

    async def scenario() -> list[str]:
        batcher: Batcher[str] = Batcher(runner, max_batch_size=8, max_wait_ms=1, max_queue=8)
        batcher.start()
        try:
            first = asyncio.create_task(batcher.submit(["shared"]))
            second = asyncio.create_task(batcher.submit(["shared"]))
            await asyncio.sleep(0.01)
            first.cancel()  # its client went away
            return await second
        finally:
            await batcher.close(timeout=5)

    assert asyncio.run(scenario()) == ["SHARED"]
