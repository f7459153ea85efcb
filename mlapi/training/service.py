"""The job service: accepts jobs, supervises their runs, and activates what they train.

Every replica runs one supervisor loop. A job is driven by the replica that accepted it (its
`owner`), which writes a heartbeat into the record at each pass; a run whose owner went quiet
is taken over (a Kubernetes Job) or failed (a local process died with its replica). With a
shared store (Redis), the other replicas load a model too once one has activated it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mlapi.errors import BodyTooLarge, InvalidJob, JobFinished, JobLost, JobNotFound, WriteConflict
from mlapi.fleet.admission import check_path, data_roots
from mlapi.fleet.control import Fleet
from mlapi.observability import metrics
from mlapi.serving.registry import Registry
from mlapi.serving.version import check_name
from mlapi.settings import Settings
from mlapi.settings.per_model import InvalidModelSettings, check
from mlapi.training.activation import KIND, Activator, output_of
from mlapi.training.progress import progress_of, read_progress
from mlapi.training.runners import JobRunner, RunSpec
from mlapi.training.schemas import (
    ACTIVE,
    FINISHED,
    Activation,
    JobRecord,
    JobState,
    TrainRequest,
    new_job_id,
)
from mlapi.training.store import JobStore

logger = logging.getLogger("mlapi.training")
STATES: tuple[JobState, ...] = ("queued", "running", "succeeded", "failed", "cancelled")


def trainer_args(request: TrainRequest, output: Path) -> tuple[str, ...]:
    assert request.dataset is not None
    return (
        f"--base-model={request.base_model}",
        f"--data={request.dataset}",
        f"--output={output}",
        f"--labels={','.join(request.labels)}",
        *request.hyperparameters.args(),
    )


class JobService:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        runner: JobRunner,
        registry: Callable[[], Registry | None],
        owner: str | None = None,
        fleet: Callable[[], Fleet | None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.activator = Activator(registry, settings.train_dir, fleet)
        for state in STATES:  # every series from the start, at zero (alerts use increase())
            metrics.TRAIN_FINISHED.labels(state=state)
            metrics.TRAIN_SECONDS.labels(state=state)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # --- the API ---------------------------------------------------------------------------

    async def submit(self, request: TrainRequest) -> JobRecord:
        job_id = new_job_id(time.time())
        workdir = self.settings.train_dir / job_id
        base = Path(request.base_model)
        if not (base / "config.json").is_file():
            raise InvalidJob(f"base_model {base} is not a model folder (no config.json there)")
        check_name(request.model)
        serving = self.activator.kind_of(request.model)
        if serving not in (None, KIND):
            raise InvalidJob(f"model {request.model!r} is a {serving} model, not a {KIND}")
        try:
            check(request.model_settings)
        except InvalidModelSettings as exc:
            raise InvalidJob(f"model_settings: {exc}") from None
        if request.dataset_content is not None:
            data = request.dataset_content.encode()
            if len(data) > self.settings.train_max_upload_bytes:
                raise BodyTooLarge(
                    f"dataset_content is larger than {self.settings.train_max_upload_bytes} "
                    "bytes (MLAPI_TRAIN_MAX_UPLOAD_BYTES)",
                    limit="train_max_upload_bytes",
                )
            path = workdir / f"data.{request.dataset_format}"
            await asyncio.to_thread(_write, path, data)
            request = request.model_copy(update={"dataset": str(path), "dataset_content": None})
        else:
            check_path(Path(str(request.dataset)), data_roots(self.settings))
            if not Path(str(request.dataset)).is_file():
                raise InvalidJob(f"dataset {request.dataset} is not a file")
        self._check_files(request, workdir)
        now = time.time()
        record = JobRecord(
            id=job_id,
            state="queued",
            runner=self.runner.name,
            model=request.model,
            request=request,
            owner=self.owner,
            output_path=str(workdir / "model"),
            created_at=now,
            updated_at=now,
        )
        record = await self.store.put(record)
        logger.info("training job queued", extra={"job": job_id, "model": request.model})
        self._wake.set()
        return record

    async def get(self, job_id: str) -> JobRecord:
        record = await self.store.get(job_id)
        if record is not None:
            return record
        since = await self.store.lost_since(job_id)
        if since is not None:
            raise JobLost(
                f"the record of job {job_id!r} was lost: the job store holds records since "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(since))}, after the job was "
                "created (Redis lost its data)"
            )
        raise JobNotFound(f"no training job {job_id!r} (finished jobs expire)")

    async def list_jobs(self) -> list[JobRecord]:
        return await self.store.list()

    async def cancel(self, job_id: str) -> JobRecord:
        record = await self.get(job_id)
        if record.state in FINISHED:
            raise JobFinished(f"job {job_id} has ended already ({record.state})")
        await self.store.request_cancel(job_id)
        if record.owner == self.owner:
            await self.tick()  # acts now; another replica's run stops at its next pass
        return await self.get(job_id)

    async def activate(self, job_id: str) -> JobRecord:
        """Serves a succeeded job's model whatever its metrics (an admin's decision)."""
        record = await self.get(job_id)
        if record.state != "succeeded":
            raise InvalidJob(f"job {job_id} is {record.state}; only a succeeded job's model loads")
        activation = await self.activator.load(record, "activated by POST /train/{id}/activate")
        record = record.model_copy(update={"activation": activation, "updated_at": time.time()})
        return await self.store.put(record)

    # --- the supervisor --------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="mlapi-training")

    async def close(self) -> None:
        # A flag, not only a cancel: on Python 3.11 a cancel that lands as `wait_for` times out
        # can be swallowed, and the supervisor would poll on while the service waits for it.
        self._closing = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self.settings.train_poll_s + 5)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        try:
            if not self.runner.adopts:  # local processes end with the service
                for record in await self.store.list():
                    if record.owner == self.owner and record.state in ACTIVE:
                        await self.runner.cancel(self._spec(record))
                        await self._finish(record, "failed", error="mlapi stopped while it ran")
        except Exception:  # the store is gone: still stop the runs and let the service stop
            logger.warning("could not record the end of the running jobs", exc_info=True)
        finally:
            await self.runner.close()
            await self.store.close()

    async def _supervise(self) -> None:
        failing = False
        while not self._closing:
            try:
                await self.tick()
                if failing:
                    logger.info("training supervisor passes again")
                failing = False
            except Exception:  # a store or cluster hiccup: try again at the next pass
                if not failing:  # once per outage, not at every pass
                    logger.warning("training supervisor pass failed", exc_info=True)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.train_poll_s)
            self._wake.clear()

    async def tick(self) -> None:
        """One pass: check runs, start queued jobs, take over orphans, count."""
        async with self._lock:
            records = await self.store.list()
            now = time.time()
            mine: list[JobRecord] = []
            for record in records:
                if record.state in ACTIVE and record.owner != self.owner:
                    if now - record.updated_at <= self.settings.train_stale_s:
                        continue
                    with _skip_conflict(record):
                        mine.append(await self._take_over(record))
                elif record.state in ACTIVE and record.owner == self.owner:
                    mine.append(record)
            mine = [record for record in mine if record.owner == self.owner]
            running = 0
            for record in mine:
                with _skip_conflict(record):
                    if record.state == "running" and await self._check(record):
                        running += 1
            for record in mine:
                if record.state != "queued":
                    continue
                with _skip_conflict(record):
                    if await self.store.cancel_requested(record.id):
                        await self._finish(record, "cancelled")
                    elif running < self.settings.train_max_running:
                        await self._start(record)
                        running += 1
                    else:
                        await self.store.put(record.model_copy(update={"updated_at": time.time()}))
            await self.activator.follow(records)
            counts = {state: 0 for state in STATES}
            for record in await self.store.list():
                counts[record.state] += 1
            for state, count in counts.items():
                metrics.TRAIN_JOBS.labels(state=state).set(count)

    def _spec(self, record: JobRecord) -> RunSpec:
        """The run of a record: its folders derived from the job id under MLAPI_TRAIN_DIR, its
        files checked against the roots again (a record may come from a shared store)."""
        output = output_of(self.settings.train_dir, record.id)
        self._check_files(record.request, output.parent)
        return RunSpec(record.id, trainer_args(record.request, output), output.parent, output)

    def _check_files(self, request: TrainRequest, workdir: Path) -> None:
        registry = self.activator.registry()
        if registry is not None:
            check_path(Path(request.base_model), registry.roots)
        if request.dataset is not None:
            check_path(Path(request.dataset), [*data_roots(self.settings), workdir])

    async def _start(self, record: JobRecord) -> None:
        if await asyncio.to_thread(output_of(self.settings.train_dir, record.id).exists):
            # A queued record of a job that ran before: a replayed record, not a job to run again
            metrics.REDIS_STALE.labels(what="training job record").inc()
            await self._finish(
                record, "failed", error="its model folder exists: it ran before; not run again"
            )
            return
        try:
            await self.runner.start(self._spec(record))
        except Exception as exc:
            await self._finish(record, "failed", error=f"could not start: {exc}")
            return
        now = time.time()
        await self.store.put(
            record.model_copy(update={"state": "running", "started_at": now, "updated_at": now})
        )

    async def _check(self, record: JobRecord) -> bool:
        """Polls a run; True while it goes on."""
        spec = self._spec(record)
        if await self.store.cancel_requested(record.id):
            await self.runner.cancel(spec)
            await self._finish(record, "cancelled")
            return False
        status = await self.runner.poll(spec)
        report = await asyncio.to_thread(read_progress, spec.output)
        record = record.model_copy(update={"progress": progress_of(report, record.progress)})
        if status.state == "running":
            await self.store.put(record.model_copy(update={"updated_at": time.time()}))
            return True
        if status.state == "failed":
            await self._finish(record, "failed", error=status.error)
            return False
        # heartbeat
        record = await self.store.put(record.model_copy(update={"updated_at": time.time()}))
        activation = await self.activator.on_success(record)
        await self._finish(record, "succeeded", activation=activation)
        return False

    async def _take_over(self, record: JobRecord) -> JobRecord:
        unstarted = record.state == "queued"
        if unstarted or (self.runner.adopts and record.runner == self.runner.name):
            logger.info("training job taken over", extra={"job": record.id, "from": record.owner})
            update = {"owner": self.owner, "updated_at": time.time(), "runner": self.runner.name}
            return await self.store.put(record.model_copy(update=update))
        quiet = round(time.time() - record.updated_at)
        return await self._finish(
            record, "failed", error=f"its replica {record.owner} stopped ({quiet} s without word)"
        )

    async def _finish(
        self,
        record: JobRecord,
        state: JobState,
        *,
        error: str | None = None,
        activation: Activation | None = None,
    ) -> JobRecord:
        now = time.time()
        record = record.model_copy(
            update={
                "state": state,
                "error": error,
                "activation": activation,
                "finished_at": now,
                "updated_at": now,
                "expires_at": now + self.settings.train_ttl_s,
            }
        )
        record = await self.store.put(record)
        seconds = now - (record.started_at or record.created_at)
        metrics.TRAIN_FINISHED.labels(state=state).inc()
        metrics.TRAIN_SECONDS.labels(state=state).observe(seconds)
        fields = {"job": record.id, "model": record.model, "seconds": round(seconds, 3)}
        if state == "failed":  # an ERROR record: Sentry's logging integration reports it
            logger.error("training job failed: %s", error, extra={**fields, "error": error})
        else:
            logger.info("training job %s", state, extra=fields)
        return record


@contextlib.contextmanager
def _skip_conflict(record: JobRecord) -> Iterator[None]:
    """Another replica wrote the job meanwhile: leave it to the next pass, which reads it."""
    try:
        yield
    except WriteConflict as exc:
        logger.info("training job changed meanwhile (%s); next pass", exc.message)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
