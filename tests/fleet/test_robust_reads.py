"""Every key the service reads, filled with random bytes, a name that is not UTF-8 or a key of
another type (a real redis-server): each is skipped and counted, and the replicas keep answering,
converging and training."""

from __future__ import annotations

import os
from pathlib import Path

import redis
from fastapi.testclient import TestClient

from harness.servers import RedisServer
from mlapi.observability import metrics
from mlapi.shared.desired import HASH
from mlapi.shared.jobs import PREFIX
from tests.fleet.conftest import ADMIN, Replicas, converge, serving, tick
from tests.trainer.conftest import write_dataset
from tests.training.conftest import job_body, wait_for

JOB = "0123456789abcdef"


def unreadable() -> float:
    return sum(
        metrics.REDIS_UNREADABLE.labels(what=w)._value.get()
        for w in ("desired state", "training job record", "poison list")
    )


def answers(client: TestClient) -> None:
    response = client.post("/predict", json={"text": ["still answering"]})
    assert response.status_code == 200, response.text
    assert client.get("/ready").status_code == 200
    listed = client.get("/train", headers=ADMIN)
    assert listed.status_code == 200, listed.text


def test_junk_in_every_key_stops_nothing(
    replicas: Replicas,
    redis_server: RedisServer,
    model_dir: Path,
    second_model_dir: Path,
    tmp_path: Path,
) -> None:
    train = {"train_dir": tmp_path / "train", "train_data_roots": str(tmp_path)}
    a, b = replicas(**train), replicas(**train)
    fingerprint = a.get("/stats").json()["models"]["default"]["fingerprint"]
    client = redis.Redis.from_url(redis_server.url)
    client.hset(HASH, mapping={b"\xff": os.urandom(64), "default": os.urandom(64)})
    client.hset(HASH, "other", b"mlapi1." + os.urandom(80))
    client.zadd(PREFIX + "jobs", {b"\xff\xfe": 1, JOB: 2})
    for key in ("job:", "cancel:"):
        client.set(PREFIX + key + JOB, os.urandom(64))
    client.set(PREFIX + "since", os.urandom(16))
    client.set(f"mlapi:poison:{fingerprint}", os.urandom(32))  # a string, not a set
    before = unreadable()
    for replica in (a, b):
        converge(replica)
        tick(replica)
        answers(replica)
    assert unreadable() > before
    loaded = a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    assert loaded.status_code == 200, loaded.text
    converge(b)
    assert serving(b)["version"] == "2" and not serving(b)["fleet"]["skew"]
    assert a.get(f"/train/{JOB}", headers=ADMIN).status_code == 404
    dataset = write_dataset(tmp_path / "train.tsv")
    job = a.post("/train", json=job_body(model_dir, dataset, activate=False), headers=ADMIN)
    assert job.status_code == 202, job.text
    wait_for(b, job.json()["id"], {"running", "succeeded", "failed"})

    # Keys of another type where the service reads a hash and a sorted set.
    client.delete(HASH, PREFIX + "jobs")
    client.set(HASH, os.urandom(32))
    client.set(PREFIX + "jobs", os.urandom(32))
    before = unreadable()
    for replica in (a, b):
        converge(replica)
        tick(replica)
        answers(replica)
        assert serving(replica)["version"] == "2"
    assert unreadable() > before
