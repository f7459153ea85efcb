"""Supervised worker processes for one model version.

The batcher calls the pool with a batch of distinct keys; the pool gives it to an idle worker.
A worker that dies is restarted (its model loaded and warmed again) and the batch runs again on
a live worker. A batch that kills a worker twice is split into single inputs, so the input that
kills is alone; that input gets `InputCrashedModel`, is remembered (`PoisonList`) and refused
from then on, and every other input of the batch gets its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from mlapi.errors import InputCrashedModel, ModelFailure
from mlapi.kinds.base import ModelKind, Servable
from mlapi.observability import metrics
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.settings.per_model import per_worker
from mlapi.workers.executor import RowOrError
from mlapi.workers.poison import PoisonList
from mlapi.workers.process import WorkerDied, WorkerProcess, WorkerStartFailed

logger = logging.getLogger("mlapi.workers")
RESTART_BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)


class WorkerPool:
    def __init__(self, spec: ModelVersion, kind: ModelKind, settings: Settings) -> None:
        self.spec = spec
        self.count = settings.workers
        share = per_worker(settings)
        self.workers = [WorkerProcess(i, spec, kind, share) for i in range(self.count)]
        self.restarts = [0] * self.count
        self.poison: PoisonList | None = None
        self._settings = settings
        self._idle: asyncio.Queue[WorkerProcess] = asyncio.Queue()
        self._watchers: list[asyncio.Task[None]] = []
        self._closing = False
        self._restarts = metrics.WORKER_RESTARTS.labels(model=spec.name)
        self._alive = metrics.WORKERS_ALIVE.labels(model=spec.name)
        self._isolated = metrics.CRASHED_INPUTS.labels(model=spec.name, outcome="isolated")
        self._refused = metrics.CRASHED_INPUTS.labels(model=spec.name, outcome="refused")

    async def start(self) -> Servable:
        """Start every worker; the first loads alone (it may run the variant trial the others
        then reuse). Returns the servable without its runtime, for parsing and formatting."""
        try:
            servable = await self.workers[0].start()
            if servable.reload_saves_memory:  # e.g. after a variant trial: only its choice
                logger.info("starting worker 0 of %s again to free the trial", self.spec.name)
                await self.workers[0].stop()
                servable = await self.workers[0].start()
            await asyncio.gather(*(w.start() for w in self.workers[1:]))
        except WorkerStartFailed:
            await asyncio.gather(*(w.stop() for w in self.workers))
            raise
        self.poison = PoisonList(servable.fingerprint, self._settings)
        for worker in self.workers:
            self._idle.put_nowait(worker)
            self._watchers.append(asyncio.create_task(self._watch(worker)))
        self._alive.set(self.count)
        return servable

    async def __call__(
        self, keys: list[str], tokens: list[list[int]] | None = None
    ) -> list[RowOrError]:
        """One result per key: encoded rows, or the error of an input that kills the model."""
        assert self.poison is not None
        ids = None if tokens is None else dict(zip(keys, tokens, strict=True))
        results: dict[str, RowOrError] = {}
        for key in await self.poison.find(keys):
            self._refused.inc()
            results[key] = InputCrashedModel("this input crashed the model before; refused")
        todo = [k for k in keys if k not in results]
        if todo:
            await self._isolate(todo, results, ids)
        return [results[k] for k in keys]

    async def _isolate(
        self, keys: list[str], results: dict[str, RowOrError], ids: dict[str, list[int]] | None
    ) -> None:
        """Run `keys`; after a death, once more; after two, each key alone.

        Alone, the keys that do not kill are answered and the one that does is found with a
        third death. A forward pass of one input costs milliseconds and a restart seconds, so
        single keys find it sooner than halving (one restart per halving step)."""
        for attempt in range(2):
            try:
                rows = await self._dispatch(keys, ids)
            except WorkerDied as exc:
                logger.warning("%s (attempt %d, %d inputs)", exc, attempt + 1, len(keys))
                continue
            results.update(zip(keys, rows, strict=True))
            return
        for key in keys if len(keys) > 1 else []:
            try:
                results[key] = (await self._dispatch([key], ids))[0]
            except WorkerDied:
                await self._poisoned(key, results)
        if len(keys) == 1:
            await self._poisoned(keys[0], results)

    async def _poisoned(self, key: str, results: dict[str, RowOrError]) -> None:
        assert self.poison is not None
        await self.poison.add(key)
        self._isolated.inc()
        logger.error("an input killed the model's worker; isolated and refused from now on")
        results[key] = InputCrashedModel("this input crashed the model; refused")

    async def _dispatch(self, keys: list[str], ids: dict[str, list[int]] | None) -> list[bytes]:
        tokens = None if ids is None else [ids[k] for k in keys]
        while True:  # skip entries of dead workers and second entries of busy ones
            worker = await self._idle.get()
            if worker.state == "idle":
                break
        try:
            rows = await worker.run(keys, tokens)
        finally:
            if worker.alive:
                self._idle.put_nowait(worker)
        if len(rows) != len(keys):
            raise ModelFailure(f"worker gave {len(rows)} results for {len(keys)} texts")
        return rows

    async def _watch(self, worker: WorkerProcess) -> None:
        """Restart `worker` whenever it dies, until the pool closes."""
        while True:
            await worker.exited()
            if self._closing:
                return
            self._alive.dec()
            logger.error(
                "worker %s of %s exited with %s; restarting",
                worker.pid,
                self.spec.name,
                worker.exit_code,
            )
            pauses = itertools.chain(RESTART_BACKOFF_S, itertools.repeat(RESTART_BACKOFF_S[-1]))
            for attempt, pause in enumerate(pauses):
                await asyncio.sleep(pause)
                if self._closing:
                    return
                try:
                    await worker.start()
                    break
                except WorkerStartFailed as exc:
                    logger.error(
                        "restart %d of worker %d failed: %s", attempt + 1, worker.index, exc
                    )
            self.restarts[worker.index] += 1
            self._restarts.inc()
            self._alive.inc()
            self._idle.put_nowait(worker)

    def describe(self) -> list[dict[str, Any]]:
        return [{**w.describe(), "restarts": self.restarts[w.index]} for w in self.workers]

    async def close(self) -> None:
        self._closing = True
        for task in self._watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(w.stop() for w in self.workers))
        self._alive.set(0)
        if self.poison is not None:
            await self.poison.close()
