"""Redis restarts under the bundle's own redis.conf (read from the rendered prod overlay) in the
middle of a fleet test. With its data dir kept, nothing is lost. With it wiped (a total loss),
the running replica writes back the desired state it serves, reports skew until it can, and a
pod started afterwards serves the admin-loaded version; a lost job answers `job_record_lost`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.shared.desired import HASH
from mlapi.training.schemas import JobRecord, TrainRequest, new_job_id
from tests.binaries import require_binary
from tests.fleet.conftest import ADMIN, replica_settings, serving
from tests.k8s.conftest import render
from tests.waiting import wait_until

PASSWORD = "restart-test-password"
ADMIN_PASSWORD = "restart-test-admin"  # the test's own user, to refuse and allow writes


@pytest.fixture
def bundle_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """redis-server with the bundle's redis.conf and the ACL file its start.sh writes (run here
    with the pod's paths moved under the test's folder), plus the test's own admin user."""
    [config_map] = [
        d
        for d in render("prod")
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "mlapi-redis"
    ]
    files = config_map["data"]
    etc, data = tmp_path / "etc", tmp_path / "data"
    etc.mkdir()
    data.mkdir()
    (etc / "password").write_text(PASSWORD)
    (etc / "mlapi-user.acl").write_text(files["mlapi-user.acl"])
    paths = {
        "/run/secrets/mlapi-redis/password": str(etc / "password"),
        "/run/redis-acl/users.acl": str(etc / "users.acl"),
        "/etc/redis/mlapi-user.acl": str(etc / "mlapi-user.acl"),
    }
    script = "\n".join(
        line for line in files["start.sh"].splitlines() if not line.startswith("exec ")
    )
    for pod, here in paths.items():
        script = script.replace(pod, here)
    subprocess.run(["sh", "-c", script], check=True)
    with (etc / "users.acl").open("a") as acl:
        acl.write(f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n")
    conf = files["redis.conf"]
    for pod, here in {**paths, "dir /data": f"dir {data}"}.items():
        conf = conf.replace(pod, here)
    (etc / "redis.conf").write_text(conf)
    server = RedisServer(
        require_binary("redis-server"),
        data,
        PASSWORD,
        config=etc / "redis.conf",
        username="mlapi",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def admin(server: RedisServer) -> redis.Redis:
    return redis.Redis(port=server.port, username="admin", password=ADMIN_PASSWORD)


@pytest.fixture
def start(
    model_dir: Path, bundle_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    settings = replica_settings(
        model_dir,
        bundle_redis.url,
        tmp_path_factory.getbasetemp(),
        redis_password=SecretStr(PASSWORD),
        train_dir=tmp_path_factory.mktemp("train"),
        train_poll_s=0.2,
    )
    clients: list[TestClient] = []

    def replica() -> TestClient:
        client = TestClient(create_app(settings))
        clients.append(client.__enter__())
        return client

    yield replica
    for client in reversed(clients):
        client.__exit__(None, None, None)


def finished_job(client: TestClient, model_dir: Path) -> str:
    """A succeeded job's record, written by the replica's own job store."""
    created = time.time() - 5
    record = JobRecord(
        id=new_job_id(created),
        state="succeeded",
        runner="local",
        model="default",
        request=TrainRequest(model="default", base_model=str(model_dir), dataset="/d.tsv"),
        owner="gone",
        output_path="/unused",
        created_at=created,
        updated_at=created,
        finished_at=created,
        expires_at=time.time() + 3600,
    )
    assert client.portal is not None
    store = client.app.state.training.store  # type: ignore[attr-defined]
    client.portal.call(store.put, record)
    return record.id


def load_second(client: TestClient, second_model_dir: Path) -> None:
    loaded = client.post(
        "/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN
    )
    assert loaded.status_code == 200, loaded.text


def test_a_restart_that_keeps_the_data_dir_loses_nothing(
    start: Any, bundle_redis: RedisServer, model_dir: Path, second_model_dir: Path
) -> None:
    a = start()
    load_second(a, second_model_dir)
    job = finished_job(a, model_dir)
    bundle_redis.stop()
    bundle_redis.start()
    late = start()
    assert serving(late)["version"] == "2"
    found = late.get(f"/train/{job}", headers=ADMIN)
    assert found.status_code == 200 and found.json()["state"] == "succeeded", found.text
    assert not serving(a)["fleet"]["skew"]


def gauges(client: TestClient) -> tuple[bool, bool]:
    """Whether the skew and the missing-desired-state gauges of `default` are 1."""
    text = client.get("/metrics").text
    return (
        'mlapi_model_version_skew{model="default"} 1.0' in text,
        'mlapi_desired_state_missing{model="default"} 1.0' in text,
    )


def test_a_total_loss_is_written_back_by_the_running_replicas(
    start: Any, bundle_redis: RedisServer, model_dir: Path, second_model_dir: Path
) -> None:
    a = start()
    load_second(a, second_model_dir)
    job = finished_job(a, model_dir)
    bundle_redis.stop()
    bundle_redis.wipe()
    bundle_redis.args = ["--min-replicas-to-write", "1"]  # back empty, refusing writes at first
    bundle_redis.start()
    wait_until(lambda: serving(a)["fleet"]["skew"], "skew reported while nothing is written back")
    assert gauges(a) == (True, True) and serving(a)["version"] == "2"
    early = start()  # no desired state: the configured version, the split that skew reports
    assert serving(early)["version"] == "1"
    admin(bundle_redis).config_set("min-replicas-to-write", 0)
    wait_until(lambda: admin(bundle_redis).hexists(HASH, "default"), "desired state written back")
    wait_until(lambda: not serving(a)["fleet"]["skew"], "skew cleared once written back")
    late = start()
    assert serving(late)["version"] == "2"
    assert serving(late)["fleet"]["desired"]["generation"] == 1
    wait_until(lambda: serving(early)["version"] == "2", "the early pod joins the version")
    # One registry for the replicas of this process: read once every replica has converged.
    wait_until(lambda: gauges(a) == (False, False), "both gauges back to 0")
    lost = late.get(f"/train/{job}", headers=ADMIN)
    assert lost.status_code == 404 and lost.json()["error"]["type"] == "job_record_lost", lost.text
    fresh = late.get(f"/train/{new_job_id(time.time() + 5)}", headers=ADMIN)
    assert fresh.json()["error"]["type"] == "job_not_found"
