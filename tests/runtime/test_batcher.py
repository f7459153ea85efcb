"""The batcher merges concurrent requests, computes duplicates once, and keeps order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from mlapi.errors import ModelFailure, Overloaded
from mlapi.serving.batcher import Batcher


class Recorder:
    """Upper-cases texts. With a gate, each batch waits for it: `running` and `peak` count the
    batches inside at once, and `entered` is set when the first batch is running."""

    def __init__(self, delay_s: float = 0.0, gate: asyncio.Event | None = None) -> None:
        self.calls: list[list[str]] = []
        self.tokens: list[list[list[int]] | None] = []
        self.delay_s = delay_s
        self.gate = gate
        self.entered = asyncio.Event()
        self.running = self.peak = 0

    async def __call__(
        self, texts: list[str], tokens: list[list[int]] | None = None
    ) -> Sequence[str | Exception]:
        self.calls.append(texts)
        self.tokens.append(tokens)
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.entered.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.delay_s)  # a model that takes time: the behaviour under test
        finally:
            self.running -= 1
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
    async def broken(texts: list[str], tokens: object = None) -> Sequence[str | Exception]:
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
    async def scenario() -> list[list[str]]:
        gate = asyncio.Event()
        runner = Recorder(gate=gate)
        batcher = Batcher(runner, max_batch_size=1, max_wait_ms=0, max_queue=64)
        batcher.start()
        pending = [asyncio.create_task(batcher.submit([f"x{i}"])) for i in range(5)]
        await runner.entered.wait()  # the first batch runs, four are queued
        closing = asyncio.create_task(batcher.close(timeout=5))
        gate.set()
        await closing
        return [task.result() for task in pending]

    assert asyncio.run(scenario()) == [[f"X{i}"] for i in range(5)]


@pytest.mark.parametrize("wait_ms", [0, 5])
def test_results_do_not_depend_on_batching(wait_ms: float) -> None:
    requests = [[f"w{i % 7}", f"v{i}"] for i in range(15)]
    assert run(Recorder(), requests, max_wait_ms=wait_ms, max_batch_size=4) == [
        [text.upper() for text in texts] for texts in requests
    ]


def test_close_past_the_grace_answers_every_waiter() -> None:
    async def scenario() -> list[BaseException | list[str]]:
        gate = asyncio.Event()  # never opened before the grace ends: a stuck model
        runner = Recorder(gate=gate)
        batcher = Batcher(runner, max_batch_size=1, max_wait_ms=0, max_queue=64)
        batcher.start()
        pending = [asyncio.create_task(batcher.submit([f"y{i}"])) for i in range(3)]
        await runner.entered.wait()  # the first batch is running, two are queued
        await batcher.close(timeout=0.1)
        results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 2)
        gate.set()
        return results

    results = asyncio.run(scenario())
    assert all(isinstance(result, Overloaded) for result in results)


def test_batches_run_side_by_side_up_to_the_concurrency() -> None:
    class AllAtOnce(Recorder):
        """Each batch waits until `concurrency` batches are inside: one after another would
        never get there (and time out)."""

        def __init__(self, concurrency: int) -> None:
            super().__init__()
            self.concurrency = concurrency
            self.all_in = asyncio.Event()

        async def __call__(
            self, texts: list[str], tokens: object = None
        ) -> Sequence[str | Exception]:
            self.running += 1
            self.peak = max(self.peak, self.running)
            if self.running == self.concurrency:
                self.all_in.set()
            try:
                await asyncio.wait_for(self.all_in.wait(), 5)
            finally:
                self.running -= 1
            return [text.upper() for text in texts]

    async def scenario(runner: AllAtOnce) -> list[list[str]]:
        batcher = Batcher(runner, concurrency=3, max_batch_size=1, max_wait_ms=0, max_queue=64)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit([f"c{i}"]) for i in range(6)))
        finally:
            await batcher.close(timeout=5)

    runner = AllAtOnce(concurrency=3)
    assert asyncio.run(scenario(runner)) == [[f"C{i}"] for i in range(6)]
    assert runner.peak == 3  # never more than the concurrency


def test_an_error_for_one_text_fails_only_its_request() -> None:
    class Picky(Recorder):
        async def __call__(
            self, texts: list[str], tokens: object = None
        ) -> Sequence[str | Exception]:
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
    async def scenario() -> list[str]:
        gate = asyncio.Event()
        runner = Recorder(gate=gate)
        batcher: Batcher[str] = Batcher(runner, max_batch_size=8, max_wait_ms=1, max_queue=8)
        batcher.start()
        try:
            first = asyncio.create_task(batcher.submit(["shared"]))
            second = asyncio.create_task(batcher.submit(["shared"]))
            await runner.entered.wait()  # the shared text is running
            first.cancel()  # its client went away
            gate.set()
            return await second
        finally:
            await batcher.close(timeout=5)

    assert asyncio.run(scenario()) == ["SHARED"]


def _tokens(text: str) -> list[int]:
    """A text's stand-in token ids: one per character."""
    return list(range(len(text)))


def run_tokenized(texts: list[str], **options: int) -> tuple[Recorder, list[tuple[int, int]]]:
    """Every text queued at once with its ids; (real, padded) tokens of each batch."""
    runner = Recorder()
    seen: list[tuple[int, int]] = []

    async def scenario() -> None:
        batcher = Batcher(
            runner,
            max_batch_size=options.get("max_batch_size", 8),
            max_wait_ms=20,
            max_queue=64,
            max_batch_tokens=options.get("max_batch_tokens", 0),
            packed=bool(options.get("packed", 0)),
            on_batch=lambda size, seconds, real, padded: seen.append((real, padded)),
        )
        batcher.start()
        try:
            answers = await asyncio.gather(
                *(batcher.submit([text], [_tokens(text)]) for text in texts)
            )
            assert answers == [[text.upper()] for text in texts]
        finally:
            await batcher.close(timeout=5)

    asyncio.run(scenario())
    return runner, seen


def test_batches_are_made_by_padded_tokens_and_grouped_by_length() -> None:
    short = [f"s{i:02d}" for i in range(6)]  # 3 tokens each
    long = ["L" * 30, "M" * 29]
    runner, seen = run_tokenized([short[0], long[0], *short[1:], long[1]], max_batch_tokens=64)
    by_batch = [set(map(len, call)) for call in runner.calls]
    assert {3} in by_batch and {29, 30} in by_batch  # no long text pads the short ones
    assert all(padded <= 64 for _, padded in seen)
    assert sum(real for real, _ in seen) == 6 * 3 + 30 + 29
    for texts, tokens in zip(runner.calls, runner.tokens, strict=True):
        assert tokens == [_tokens(t) for t in texts]  # each text's own ids, in its place


def test_the_oldest_text_is_never_passed_over() -> None:
    texts = ["x" * 40, *(f"s{i}" for i in range(12))]
    runner, _ = run_tokenized(texts, max_batch_tokens=48, max_batch_size=4)
    assert runner.calls[0] == [texts[0]]  # oldest first, alone: it fills the budget by itself
    assert sorted(t for call in runner.calls for t in call) == sorted(texts)


def test_without_a_token_budget_only_the_count_and_padding_bound() -> None:
    texts = [f"s{i}" for i in range(10)]
    runner, seen = run_tokenized(texts, max_batch_size=4)
    assert [len(call) for call in runner.calls] == [4, 4, 2]
    assert all(real == padded for real, padded in seen)  # same lengths: no padding


def test_a_packed_model_is_batched_by_real_tokens_in_arrival_order() -> None:
    texts = ["L" * 30, "s01", "s02", "M" * 20, "s03", "s04"]  # 30 + 20 + 4 x 3 = 62 tokens
    runner, seen = run_tokenized(texts, max_batch_tokens=62, packed=1)
    assert [sorted(call) for call in runner.calls] == [sorted(texts)]  # padded, 6 x 30 > 62
    assert seen == [(62, 62)]  # a packed forward runs its real tokens only

    runner, seen = run_tokenized(texts, max_batch_tokens=40, packed=1)
    assert runner.calls == [texts[:3], texts[3:]]  # 30 + 3 + 3, then 20 + 3 + 3
    assert seen == [(36, 36), (26, 26)]
