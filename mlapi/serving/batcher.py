"""Micro-batching: a bounded queue in front of a model; batches run one per worker at a time.

What waits in the queue are a model's keys, one per input (a text, or a row of numbers).
Texts that come with their token ids are batched by tokens, as text-embeddings-inference
does: a batch holds the oldest waiting text and the waiting texts closest to it in length,
as long as the padded batch (longest text x count) stays within `max_batch_tokens` and its
padding within the runtime's padding bound (`mlapi.runtime.base.pads_within`). A long text
waits for a batch of its own length rather than pad short ones to its length; it is never
passed over once it is the oldest. A model that runs unpadded (`packed`) pays for real
tokens only: its batches take the waiting texts in arrival order up to `max_batch_tokens`
real tokens, so the texts of one request finish together (the model groups lengths for
attention itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mlapi.errors import ModelFailure, Overloaded
from mlapi.observability import metrics
from mlapi.runtime.base import pads_within

T = TypeVar("T")
logger = logging.getLogger("mlapi.batcher")
# The keys of one batch and their token ids (or None) -> one result or error per key.
BatchFunction = Callable[[list[str], list[list[int]] | None], Awaitable[Sequence[T | Exception]]]
# keys, seconds, real tokens, tokens the projections ran (padded batch, or real when packed)
OnBatch = Callable[[int, float, int, int], None]


@dataclass(slots=True)
class _Item(Generic[T]):
    key: str
    future: asyncio.Future[T]
    tokens: list[int] | None = None
    queued_at: float = field(default_factory=time.perf_counter)


def _refuse(items: Sequence[_Item[T]]) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(Overloaded("shutting down", limit="shutdown"))


class Batcher(Generic[T]):
    """Collects keys from concurrent requests into batches of at most `max_batch_size`.

    `run_batch` gets distinct keys (and their token ids, when they came with them) and returns
    one result per key, or an exception for a key that alone fails (the other keys of the
    batch are answered). It runs off the event loop (a thread or worker processes); up to
    `concurrency` batches run at once, one per worker.
    """

    def __init__(
        self,
        run_batch: BatchFunction[T],
        *,
        concurrency: int = 1,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue: int,
        max_batch_tokens: int = 0,
        packed: bool = False,
        retry_after_s: int = 1,
        model: str = "default",
        on_batch: OnBatch | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch_size = max_batch_size
        self._max_tokens = max_batch_tokens or 1 << 62  # 0: count only
        self._packed = packed
        self._max_wait = max_wait_ms / 1000
        self._max_queue = max_queue
        self._waiting: deque[_Item[T]] = deque()
        self._arrived = asyncio.Event()
        self._retry_after = str(retry_after_s)
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._running: dict[asyncio.Task[None], list[_Item[T]]] = {}
        # Keys queued or running, by key: a key already in flight is not queued again, its
        # future is shared (a burst of the same inputs takes one queue slot per distinct key).
        self._in_flight: dict[str, asyncio.Future[T]] = {}
        self._on_batch = on_batch
        self._depth = metrics.QUEUE_DEPTH.labels(model=model)
        self._wait = metrics.QUEUE_WAIT.labels(model=model)
        self._batch_wait = metrics.BATCH_QUEUE_WAIT.labels(model=model)
        self._inference = metrics.INFERENCE.labels(model=model)
        self._sizes = metrics.BATCH_SIZE.labels(model=model)
        self._overloads = metrics.OVERLOADS.labels(model=model)
        self._errors = metrics.MODEL_ERRORS.labels(model=model)

    @property
    def pending(self) -> int:
        """Keys queued or inside the running batches."""
        return len(self._waiting) + sum(len(batch) for batch in self._running.values())

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mlapi-batcher")

    async def submit(
        self, keys: Sequence[str], tokens: Sequence[list[int]] | None = None
    ) -> list[T]:
        """Results for `keys` in order; all of them are queued, or none (`Overloaded`).
        `tokens`: each key's token ids (then batches are made by tokens)."""
        if self._task is None or self._task.done():
            raise ModelFailure("the batcher is not running")
        waiting = self._waiting
        in_flight = self._in_flight
        ids = dict(zip(keys, tokens, strict=True)) if tokens is not None else {}
        new = [key for key in dict.fromkeys(keys) if key not in in_flight]
        if self._max_queue - len(waiting) < len(new):
            self._overloads.inc()
            raise Overloaded(
                f"queue full ({self._max_queue} texts, MLAPI_MAX_QUEUE); retry later",
                limit="max_queue",
                headers={"Retry-After": self._retry_after},
            )
        loop = asyncio.get_running_loop()
        for key in new:
            future: asyncio.Future[T] = loop.create_future()
            in_flight[key] = future
            waiting.append(_Item(key, future, ids.get(key)))
        if new:
            self._arrived.set()
        self._depth.set(len(waiting))
        # Shielded: a request that is cancelled (its client left) must not cancel a shared key.
        if len(keys) == 1:  # most requests: no gathering future and its callbacks
            return [await asyncio.shield(in_flight[keys[0]])]
        return list(await asyncio.gather(*(asyncio.shield(in_flight[k]) for k in keys)))

    async def _collect(self) -> list[_Item[T]]:
        """Waits for a first key, then up to `max_wait_ms` for a full batch; picks it."""
        waiting = self._waiting
        while not waiting:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = time.perf_counter() + self._max_wait
        while len(waiting) < self._max_batch_size:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        return self._pick()

    def _pick(self) -> list[_Item[T]]:
        """The oldest key, and the waiting keys nearest it in length that fit the budget."""
        waiting = self._waiting
        first = waiting[0]
        if first.tokens is None:  # count only, in arrival order
            return [waiting.popleft() for _ in range(min(self._max_batch_size, len(waiting)))]
        if self._packed:  # arrival order, up to the real-token budget (the oldest always)
            batch, real = [waiting.popleft()], len(first.tokens)
            while waiting and len(batch) < self._max_batch_size:
                real += len(waiting[0].tokens or ())
                if real > self._max_tokens:
                    break
                batch.append(waiting.popleft())
            return batch
        target = len(first.tokens)
        nearest = sorted(
            range(1, len(waiting)),
            key=lambda i: abs(len(waiting[i].tokens or ()) - target),
        )
        chosen = [0]
        longest, real = target, target
        for index in nearest:
            if len(chosen) == self._max_batch_size:
                break
            length = len(waiting[index].tokens or ())
            width = max(longest, length)
            padded = width * (len(chosen) + 1)
            if padded > self._max_tokens or not pads_within(padded, real + length):
                continue
            chosen.append(index)
            longest, real = width, real + length
        picked = set(chosen)
        batch = [waiting[i] for i in sorted(picked)]
        self._waiting = deque(item for i, item in enumerate(waiting) if i not in picked)
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
        self._depth.set(len(self._waiting))
        started = time.perf_counter()
        for item in batch:
            self._wait.observe(started - item.queued_at)
        self._batch_wait.observe(started - min(item.queued_at for item in batch))
        distinct = list(dict.fromkeys(item.key for item in batch))
        self._sizes.observe(len(distinct))
        ids = {item.key: item.tokens for item in batch}
        tokenized = all(t is not None for t in ids.values())
        tokens = [ids[key] or [] for key in distinct] if tokenized else None
        lengths = [len(t) for t in tokens or ()]
        try:
            results = await self._run_batch(distinct, tokens)
            if len(results) != len(distinct):
                raise RuntimeError(f"batch gave {len(results)} results for {len(distinct)}")
        except asyncio.CancelledError:  # close() past its grace period: answer, then stop
            _refuse(batch)
            raise
        except Exception as exc:  # a failed batch fails every waiter, the loop goes on
            self._errors.inc()
            logger.exception("batch of %d inputs failed", len(distinct))
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
            by_key = dict(zip(distinct, results, strict=True))
            for item in batch:
                if item.future.done():
                    continue
                result = by_key[item.key]
                if isinstance(result, Exception):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
        finally:
            self._release(batch)
            seconds = time.perf_counter() - started
            self._inference.observe(seconds)
            if self._on_batch is not None:
                real = sum(lengths)
                padded = real if self._packed else max(lengths, default=0) * len(lengths)
                self._on_batch(len(distinct), seconds, real, padded)

    def _release(self, items: Sequence[_Item[T]]) -> None:
        in_flight = self._in_flight
        for item in items:
            if in_flight.get(item.key) is item.future:
                del in_flight[item.key]

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
        left = list(self._waiting)
        self._waiting.clear()
        _refuse(left)
        self._release(left)
