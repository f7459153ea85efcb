"""A training activation reaches the fleet through the desired state, so it is fenced with it:
replaying the activation's signed records (the job's and the desired state's) after an admin
rolled it back changes nothing (a real redis-server, two replicas)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis

from harness.servers import RedisServer
from mlapi.shared.desired import HASH
from mlapi.shared.jobs import PREFIX
from mlapi.training.schemas import JobRecord, TrainRequest, new_job_id
from tests.fleet.conftest import ADMIN, Replicas, converge, serving, tick


def test_a_replayed_activation_is_not_applied_again(
    replicas: Replicas,
    redis_server: RedisServer,
    model_dir: Path,
    second_model_dir: Path,
    tmp_path: Path,
) -> None:
    train_dir = tmp_path / "train"
    a, b = replicas(train_dir=train_dir), replicas(train_dir=train_dir)
    now = time.time()
    job_id = new_job_id(now)
    shutil.copytree(second_model_dir, train_dir / job_id / "model")  # what the run trained
    record = JobRecord(
        id=job_id,
        state="succeeded",
        runner="local",
        model="default",
        request=TrainRequest(model="default", base_model=str(model_dir), dataset="/d.tsv"),
        owner="a",
        output_path=str(train_dir / job_id / "model"),
        created_at=now,
        updated_at=now,
        finished_at=now,
    )
    assert a.portal is not None
    a.portal.call(a.app.state.training.store.put, record)  # type: ignore[attr-defined]
    activated = a.post(f"/train/{job_id}/activate", headers=ADMIN)
    assert activated.status_code == 200 and activated.json()["activation"]["activated"]
    client = redis.Redis.from_url(redis_server.url)
    replayed = {HASH: client.hget(HASH, "default"), "job": client.get(PREFIX + "job:" + job_id)}
    converge(b)
    assert serving(b)["version"] == "2"
    assert a.post("/models/default/rollback", headers=ADMIN).status_code == 200
    converge(b)
    assert serving(b)["version"] == "1"
    client.hset(HASH, "default", replayed[HASH])
    client.set(PREFIX + "job:" + job_id, replayed["job"])
    for replica in (a, b):
        converge(replica)
        tick(replica)
        entry = serving(replica)
        assert entry["version"] == "1" and entry["fleet"]["desired"]["history"][0] == "2"
