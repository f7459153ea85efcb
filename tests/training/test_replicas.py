"""Two replicas sharing Redis: both list the job, and both serve what one of them trained."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.training.conftest import ADMIN, job_body, wait_for
from tests.waiting import wait_until


def test_the_other_replica_sees_the_job_and_loads_its_model(
    train_settings: Settings, redis_server: RedisServer, model_dir: Path, dataset: Path
) -> None:
    shared = train_settings.model_copy(
        update={
            "redis_url": redis_server.url,
            "redis_signing_key": SecretStr("replicas-key-0123456"),
        }
    )
    with TestClient(create_app(shared)) as a, TestClient(create_app(shared)) as b:
        job = a.post("/train", json=job_body(model_dir, dataset), headers=ADMIN).json()
        assert b.get(f"/train/{job['id']}", headers=ADMIN).json()["owner"] == job["owner"]
        done = wait_for(b, job["id"], {"succeeded", "failed", "cancelled"})
        assert done["state"] == "succeeded" and done["activation"]["activated"], done
        assert a.get("/models").json()["models"][0]["version"] == "2"
        wait_until(
            lambda: b.get("/models").json()["models"][0]["version"] == "2",
            "trained model loaded on replica b",
        )
        fingerprints = {c.get("/stats").json()["models"]["default"]["fingerprint"] for c in (a, b)}
        assert fingerprints == {done["activation"]["fingerprint"]}
