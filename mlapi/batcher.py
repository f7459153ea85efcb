"""Micro-batching: a bounded queue in front of a model that runs in one worker thread."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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

    `runner` gets distinct texts and returns one result per text; it runs in a single worker
    thread, so forward passes never block the event loop and never overlap.
    """

    def __init__(
        self,
        runner: Callable[[list[str]], Sequence[T]],
        *,
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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlapi-model")
        self._task: asyncio.Task[None] | None = None
        self._running: list[_Item[T]] = []
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
        return self._queue.qsize() + len(self._running)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mlapi-batcher")

    async def submit(self, texts: Sequence[str]) -> list[T]:
        """Results for `texts` in order; all of them are queued, or none (`Overloaded`)."""
        if self._task is None or self._task.done():
            raise ModelFailure("the batcher is not running")
        queue = self._queue
        if queue.maxsize - queue.qsize() < len(texts):
            self._overloads.inc()
            raise Overloaded(
                f"queue full ({queue.maxsize} texts, MLAPI_MAX_QUEUE); retry later",
                limit="max_queue",
                headers={"Retry-After": self._retry_after},
            )
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[T]] = []
        for text in texts:
            future: asyncio.Future[T] = loop.create_future()
            queue.put_nowait(_Item(text, future))
            futures.append(future)
        self._depth.set(queue.qsize())
        return list(await asyncio.gather(*futures))

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
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            self._running = batch
            self._depth.set(self._queue.qsize())
            started = time.perf_counter()
            for item in batch:
                self._wait.observe(started - item.queued_at)
            distinct = list(dict.fromkeys(item.text for item in batch))
            self._sizes.observe(len(distinct))
            try:
                results = await loop.run_in_executor(self._executor, self._runner, distinct)
                if len(results) != len(distinct):
                    raise RuntimeError(f"runner gave {len(results)} results for {len(distinct)}")
            except asyncio.CancelledError:  # close() past its grace period: answer, then stop
                _refuse(batch)
                raise
            except Exception as exc:  # a failed batch fails every waiter, the loop goes on
                self._errors.inc()
                logger.exception("batch of %d texts failed", len(distinct))
                error = ModelFailure(f"model error: {type(exc).__name__}")
                error.__cause__ = exc
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
            else:
                by_text = dict(zip(distinct, results, strict=True))
                for item in batch:
                    if not item.future.done():
                        item.future.set_result(by_text[item.text])
            finally:
                seconds = time.perf_counter() - started
                self._inference.observe(seconds)
                if self._on_batch is not None:
                    self._on_batch(len(distinct), seconds)
                self._running = []

    async def close(self, timeout: float) -> None:
        """Let queued and running batches finish (up to `timeout`), then stop the loop."""
        deadline = time.perf_counter() + timeout
        while self.pending and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        # Past the grace period, what is still queued is answered with a 503, never left waiting.
        left = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
        _refuse(left)
        self._executor.shutdown(wait=True)
