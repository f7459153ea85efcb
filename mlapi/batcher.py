"""Micro-batching: a bounded queue in front of a model; batches run one per worker at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mlapi import metrics
from mlapi.errors import ModelFailure, Overloaded

T = TypeVar("T")
logger = logging.getLogger("mlapi.batcher")


@dataclass(slots=True)
class _Item(Generic[T]):
    text: str
    future: asyncio.Future[T]
    queued_at: float = field(default_factory=time.perf_counter)


def _refuse(items: Sequence[_Item[T]]) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(Overloaded("shutting down", limit="shutdown"))


class Batcher(Generic[T]):
    """Collects texts from concurrent requests into batches of at most `max_batch_size`.

    `runner` gets distinct texts and returns one result per text, or an exception for a text
    that alone fails (the other texts of the batch are answered). It runs off the event loop
    (a thread or worker processes); up to `concurrency` batches run at once, one per worker.
    """

    def __init__(
        self,
        runner: Callable[[list[str]], Awaitable[Sequence[T | Exception]]],
        *,
        concurrency: int = 1,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue: int,
        retry_after_s: int = 1,
        model: str = "default",
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self._runner = runner
        self._max_batch_size = max_batch_size
        self._max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Item[T]] = asyncio.Queue(maxsize=max_queue)
        self._retry_after = str(retry_after_s)
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._running: dict[asyncio.Task[None], list[_Item[T]]] = {}
        # Texts queued or running, by text: a text already in flight is not queued again, its
        # future is shared (a burst of the same texts takes one queue slot per distinct text).
        self._in_flight: dict[str, asyncio.Future[T]] = {}
        self._on_batch = on_batch
        self._depth = metrics.QUEUE_DEPTH.labels(model=model)
        self._wait = metrics.QUEUE_WAIT.labels(model=model)
        self._inference = metrics.INFERENCE.labels(model=model)
        self._sizes = metrics.BATCH_SIZE.labels(model=model)
        self._overloads = metrics.OVERLOADS.labels(model=model)
        self._errors = metrics.MODEL_ERRORS.labels(model=model)

    @property
    def pending(self) -> int:
        """Texts queued or inside the running batch."""
        return self._queue.qsize() + sum(len(batch) for batch in self._running.values())

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mlapi-batcher")

    async def submit(self, texts: Sequence[str]) -> list[T]:
        """Results for `texts` in order; all of them are queued, or none (`Overloaded`)."""
        if self._task is None or self._task.done():
            raise ModelFailure("the batcher is not running")
        queue = self._queue
        in_flight = self._in_flight
        new = [text for text in dict.fromkeys(texts) if text not in in_flight]
        if queue.maxsize - queue.qsize() < len(new):
            self._overloads.inc()
            raise Overloaded(
                f"queue full ({queue.maxsize} texts, MLAPI_MAX_QUEUE); retry later",
                limit="max_queue",
                headers={"Retry-After": self._retry_after},
            )
        loop = asyncio.get_running_loop()
        for text in new:
            future: asyncio.Future[T] = loop.create_future()
            in_flight[text] = future
            queue.put_nowait(_Item(text, future))
        self._depth.set(queue.qsize())
        # Shielded: a request that is cancelled (its client left) must not cancel a shared text.
        if len(texts) == 1:  # most requests: no gathering future and its callbacks
            return [await asyncio.shield(in_flight[texts[0]])]
        return list(await asyncio.gather(*(asyncio.shield(in_flight[t]) for t in texts)))

    async def _collect(self) -> list[_Item[T]]:
        queue = self._queue
        batch = [await queue.get()]
        deadline = time.perf_counter() + self._max_wait
        while len(batch) < self._max_batch_size:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _loop(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                batch = await self._collect()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            task = asyncio.create_task(self._run(batch), name="mlapi-batch")
            self._running[task] = batch
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._slots.release()

    async def _run(self, batch: list[_Item[T]]) -> None:
        self._depth.set(self._queue.qsize())
        started = time.perf_counter()
        for item in batch:
            self._wait.observe(started - item.queued_at)
        distinct = list(dict.fromkeys(item.text for item in batch))
        self._sizes.observe(len(distinct))
        try:
            results = await self._runner(distinct)
            if len(results) != len(distinct):
                raise RuntimeError(f"runner gave {len(results)} results for {len(distinct)}")
        except asyncio.CancelledError:  # close() past its grace period: answer, then stop
            _refuse(batch)
            raise
        except Exception as exc:  # a failed batch fails every waiter, the loop goes on
            self._errors.inc()
            logger.exception("batch of %d texts failed", len(distinct))
            error = (
                exc
                if isinstance(exc, ModelFailure)
                else ModelFailure(f"model error: {type(exc).__name__}")
            )
            if error is not exc:
                error.__cause__ = exc
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
        else:
            by_text = dict(zip(distinct, results, strict=True))
            for item in batch:
                if item.future.done():
                    continue
                result = by_text[item.text]
                if isinstance(result, Exception):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
        finally:
            self._release(batch)
            seconds = time.perf_counter() - started
            self._inference.observe(seconds)
            if self._on_batch is not None:
                self._on_batch(len(distinct), seconds)

    def _release(self, items: Sequence[_Item[T]]) -> None:
        in_flight = self._in_flight
        for item in items:
            if in_flight.get(item.text) is item.future:
                del in_flight[item.text]

    async def close(self, timeout: float) -> None:
        """Let queued and running batches finish (up to `timeout`), then stop the loop."""
        deadline = time.perf_counter() + timeout
        while self.pending and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Past the grace period, what is still queued is answered with a 503, never left waiting.
        left = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
        _refuse(left)
        self._release(left)
