"""When a replica goes silent: its queued jobs move to another replica, its local runs fail."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mlapi.settings import Settings
from mlapi.training.runners import RunStatus
from mlapi.training.schemas import JobRecord, TrainRequest
from mlapi.training.service import JobService
from mlapi.training.store import SQLiteJobStore
from tests.training.fake_runner import ScriptedRunner


def replicas(tmp_path: Path) -> tuple[JobService, JobService, ScriptedRunner, SQLiteJobStore]:
    settings = Settings(
        train_dir=tmp_path / "train", train_data_roots=str(tmp_path), train_stale_s=30
    )
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    runner_b = ScriptedRunner(RunStatus("running"))
    a = JobService(settings, store, ScriptedRunner(RunStatus("running")), lambda: None, "a")
    b = JobService(settings, store, runner_b, lambda: None, "b")
    return a, b, runner_b, store


async def silence(store: SQLiteJobStore, record: JobRecord) -> None:
    current = await store.get(record.id)
    assert current is not None
    await store.put(current.model_copy(update={"updated_at": time.time() - 60}))


def test_a_silent_replicas_queued_job_runs_elsewhere(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    a, b, runner_b, store = replicas(tmp_path)
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))

    async def scenario() -> None:
        job = await a.submit(request)  # a dies before its next pass
        await b.tick()
        assert (await b.get(job.id)).owner == "a" and runner_b.calls == []
        await silence(store, job)
        await b.tick()
        moved = await b.get(job.id)
        assert (moved.owner, moved.state) == ("b", "running")
        assert runner_b.calls == [("start", job.id)]

    asyncio.run(scenario())


def test_a_taken_over_job_runs_from_its_own_folder_whatever_the_record_says(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    """A record rewritten in the shared store cannot choose where the run writes, nor make it
    read a dataset outside the roots."""
    a, b, runner_b, store = replicas(tmp_path)
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))

    async def scenario() -> None:
        job = await a.submit(request)
        forged = job.model_copy(update={"output_path": "/etc/mlapi-owned", "updated_at": 0.0})
        await store.put(forged)
        await b.tick()
        [spec] = runner_b.started
        assert spec.output == tmp_path / "train" / job.id / "model"
        assert "--output=/etc/mlapi-owned" not in spec.args

    asyncio.run(scenario())


def test_a_taken_over_job_reads_no_dataset_outside_the_roots(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    a, b, runner_b, store = replicas(tmp_path)
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))

    async def scenario() -> None:
        job = await a.submit(request)
        outside = job.request.model_copy(update={"dataset": "/etc/passwd.tsv"})
        await store.put(job.model_copy(update={"request": outside, "updated_at": 0.0}))
        await b.tick()
        refused = await b.get(job.id)
        assert refused.state == "failed" and refused.error is not None
        assert "outside the allowed roots" in refused.error
        assert runner_b.started == []

    asyncio.run(scenario())


def test_a_silent_replicas_local_run_fails_with_the_reason(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    a, b, runner_b, store = replicas(tmp_path)
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))

    async def scenario() -> None:
        job = await a.submit(request)
        await a.tick()
        assert (await a.get(job.id)).state == "running"
        await silence(store, job)
        await b.tick()
        failed = await b.get(job.id)
        assert failed.state == "failed" and failed.error is not None
        assert failed.error.startswith("its replica a stopped (60 s without word)")
        assert runner_b.calls == []

    asyncio.run(scenario())
