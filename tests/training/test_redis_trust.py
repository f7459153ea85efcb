"""Job records in Redis are data, not orders: a record that fails the signature check is
ignored, and a signed one still cannot choose the folder a replica loads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.observability import metrics
from mlapi.settings import Settings
from mlapi.shared.jobs import PREFIX, RedisJobStore
from mlapi.shared.signing import Signer
from mlapi.training.build import build_store
from mlapi.training.schemas import Activation, JobRecord, TrainRequest
from mlapi.training.store import SQLiteJobStore
from tests.fleet.conftest import tick
from tests.training.conftest import ADMIN

KEY = "training-signing-key-0123456789"
JOB = "0123456789abcdef"


@pytest.fixture
def shared(train_settings: Settings, redis_server: RedisServer) -> Settings:
    return train_settings.model_copy(
        update={"redis_url": redis_server.url, "redis_signing_key": SecretStr(KEY)}
    )


@pytest.fixture
def replica(shared: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(shared)) as client:
        yield client


def activated(model_dir: Path, dataset: Path, output: Path, job_id: str = JOB) -> JobRecord:
    """What an attacker writes: a succeeded job whose model every replica should load."""
    now = time.time() + 5  # after the replica started
    return JobRecord(
        id=job_id,
        state="succeeded",
        runner="local",
        model="default",
        request=TrainRequest(model="default", base_model=str(model_dir), dataset=str(dataset)),
        owner="elsewhere",
        output_path=str(output),
        activation=Activation(activated=True, reason="forged", version="2", at=now),
        created_at=now,
        updated_at=now,
        finished_at=now,
    )


def rejected() -> float:
    return metrics.REDIS_REJECTED.labels(what="training job record")._value.get()


def serving(client: TestClient) -> str:
    version: str = client.get("/models").json()["models"][0]["version"]
    return version


def test_a_record_written_without_the_key_is_ignored(
    replica: TestClient, redis_server: RedisServer, model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    forged = activated(model_dir, dataset, tmp_path / "elsewhere").model_dump_json().encode()
    key = PREFIX + "job:" + JOB
    store = redis.Redis.from_url(redis_server.url)
    for value in (forged, Signer("another-key-0123456789").seal(key, forged)):
        store.set(key, value)
        store.zadd(PREFIX + "jobs", {JOB: time.time()})
        before = rejected()
        tick(replica)
        assert rejected() > before
        assert replica.get(f"/train/{JOB}", headers=ADMIN).status_code == 404
        assert replica.get("/train", headers=ADMIN).json()["jobs"] == []
        assert serving(replica) == "1"


def test_a_signed_record_moved_to_another_job_is_ignored(
    replica: TestClient, redis_server: RedisServer, model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    record = activated(model_dir, dataset, tmp_path / "elsewhere")
    signed = Signer(KEY).seal(PREFIX + "job:" + JOB, record.model_dump_json().encode())
    other = "fedcba9876543210"
    store = redis.Redis.from_url(redis_server.url)
    store.set(PREFIX + "job:" + other, signed)
    store.zadd(PREFIX + "jobs", {other: time.time()})
    tick(replica)
    assert replica.get(f"/train/{other}", headers=ADMIN).status_code == 404
    assert serving(replica) == "1"


def test_a_followed_activation_loads_only_from_the_job_folder(
    shared: Settings, second_model_dir: Path, model_dir: Path, dataset: Path
) -> None:
    """Even a signed record (a replica's own key) cannot point replicas at another folder, even
    one under the model roots: the folder is derived from the job id under MLAPI_TRAIN_DIR."""
    roots = f"{model_dir.parent},{second_model_dir.parent},{shared.train_dir}"
    with TestClient(create_app(shared.model_copy(update={"model_roots": roots}))) as replica:
        record = activated(model_dir, dataset, second_model_dir)  # a model that loads fine
        store = build_store(shared)
        assert isinstance(store, RedisJobStore)

        async def put() -> None:
            await store.put(record)
            await store.close()

        asyncio.run(put())
        tick(replica)
        assert replica.get(f"/train/{JOB}", headers=ADMIN).json()["id"] == JOB  # signed: listed
        assert serving(replica) == "1"  # but <train_dir>/<id>/model does not exist


def test_without_a_signing_key_jobs_stay_on_the_replica(
    train_settings: Settings, redis_server: RedisServer
) -> None:
    unsigned = train_settings.model_copy(update={"redis_url": redis_server.url})
    store = build_store(unsigned)
    assert isinstance(store, SQLiteJobStore)
    asyncio.run(store.close())


def test_a_short_signing_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(redis_signing_key=SecretStr("short"))
