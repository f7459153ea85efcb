"""Replayed shared records on a real redis-server: a job's state only moves forward, a replayed
older record of a finished job is neither believed nor run again, a cancel is bound to its job,
and a poison entry to its model."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from harness.servers import RedisServer
from mlapi.errors import WriteConflict
from mlapi.observability import metrics
from mlapi.settings import Settings
from mlapi.shared.jobs import PREFIX, RedisJobStore
from mlapi.training.build import build_store
from mlapi.training.runners import RunSpec, RunStatus
from mlapi.training.schemas import JobRecord, TrainRequest, new_job_id
from mlapi.training.service import JobService
from mlapi.workers.poison import PoisonList
from tests.training.fake_runner import ScriptedRunner

KEY = "replay-signing-key-0123456789"


class WritingRunner(ScriptedRunner):
    """Makes the model folder when a run starts, as the trainer does."""

    async def start(self, spec: RunSpec) -> None:
        await super().start(spec)
        spec.output.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def shared(tmp_path: Path, redis_server: RedisServer) -> Settings:
    return Settings(
        train_dir=tmp_path / "train",
        train_data_roots=str(tmp_path),
        train_stale_s=30,
        redis_url=redis_server.url,
        redis_signing_key=SecretStr(KEY),
    )


def service(settings: Settings, owner: str, outcome: str = "succeeded") -> JobService:
    store = build_store(settings)
    assert isinstance(store, RedisJobStore)
    return JobService(settings, store, WritingRunner(RunStatus(outcome)), lambda: None, owner)


def stale() -> float:
    return metrics.REDIS_STALE.labels(what="training job record")._value.get()


def runner_of(job_service: JobService) -> ScriptedRunner:
    assert isinstance(job_service.runner, ScriptedRunner)
    return job_service.runner


def test_a_replayed_queued_record_of_a_finished_job_is_not_run_again(
    shared: Settings, redis_server: RedisServer, model_dir: Path, dataset: Path
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    a = service(shared, "a")
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))

    async def scenario() -> None:
        job = await a.submit(request)
        queued = client.get(PREFIX + "job:" + job.id)  # generation 1, validly signed
        await a.tick()  # started, then succeeded
        await a.tick()
        assert (await a.get(job.id)).state == "succeeded"
        client.set(PREFIX + "job:" + job.id, queued)
        before = stale()
        assert (await a.get(job.id)).state == "succeeded"  # the replica that ran it knows
        assert stale() > before
        await a.tick()
        assert runner_of(a).calls.count(("start", job.id)) == 1
        # A replica started afterwards has no memory: it takes over the (stale-looking)
        # queued record, but the job's model folder says it ran, so it is not started again.
        client.set(PREFIX + "job:" + job.id, queued)
        b = service(shared.model_copy(update={"train_stale_s": 0}), "b")
        await b.tick()
        assert ("start", job.id) not in runner_of(b).calls
        ended = await b.get(job.id)
        assert ended.state == "failed" and "ran before" in str(ended.error)
        await a.store.close()
        await b.store.close()

    asyncio.run(scenario())


def test_a_jobs_state_only_moves_forward(shared: Settings, model_dir: Path) -> None:
    async def scenario() -> None:
        first, second = build_store(shared), build_store(shared)
        request = TrainRequest(model="m", base_model=str(model_dir), dataset="/d.tsv")
        now = time.time()
        queued = JobRecord(
            id=new_job_id(now),
            state="queued",
            runner="local",
            model="m",
            request=request,
            owner="a",
            output_path="/x",
            created_at=now,
            updated_at=now,
        )
        queued = await first.put(queued)
        running = await first.put(queued.model_copy(update={"state": "running"}))
        with pytest.raises(WriteConflict):  # an older generation, whoever writes it
            await second.put(queued.model_copy(update={"updated_at": time.time()}))
        with pytest.raises(WriteConflict):  # the right generation, a state backward
            await second.put(running.model_copy(update={"state": "queued"}))
        done = await second.put(running.model_copy(update={"state": "cancelled"}))
        with pytest.raises(WriteConflict):  # an end never changes
            await first.put(done.model_copy(update={"state": "succeeded"}))
        assert (await first.get(done.id)) == done
        await first.close()
        await second.close()

    asyncio.run(scenario())


def test_a_cancel_is_bound_to_its_job_and_does_nothing_after_its_end(
    shared: Settings, redis_server: RedisServer, model_dir: Path, dataset: Path
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    a = service(shared, "a", outcome="running")
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))

    async def scenario() -> None:
        ended = await a.submit(request)
        await a.tick()
        await a.cancel(ended.id)
        assert (await a.get(ended.id)).state == "cancelled"
        cancel = client.get(PREFIX + "cancel:" + ended.id)
        other = await a.submit(request)
        await a.tick()
        client.set(PREFIX + "cancel:" + other.id, cancel)  # moved to another job: refused
        client.set(PREFIX + "cancel:" + ended.id, cancel)  # replayed on its own: ended
        await a.tick()
        assert (await a.get(other.id)).state == "running"
        assert (await a.get(ended.id)).state == "cancelled"
        await a.store.close()

    asyncio.run(scenario())


def test_a_poison_entry_is_bound_to_its_model(shared: Settings, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)

    async def scenario() -> None:
        first = PoisonList("a" * 16, shared)
        await first.add("a crashing text")
        [member] = client.smembers("mlapi:poison:" + "a" * 16)
        client.sadd("mlapi:poison:" + "b" * 16, member)  # replayed into another model's list
        other = PoisonList("b" * 16, shared)
        assert await other.find(["a crashing text", "fine"]) == set()
        fresh = PoisonList("a" * 16, shared)  # its own model: that text only
        assert await fresh.find(["a crashing text", "fine"]) == {"a crashing text"}
        for poison in (first, other, fresh):
            await poison.close()

    asyncio.run(scenario())
