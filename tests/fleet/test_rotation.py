"""Rotating the signing key from A to B keeps one fleet: real `python -m mlapi` replicas on a
real redis-server, rolled one at a time through [A] -> [A, B] -> [B, A] -> [B] (the first key
signs, every key is accepted). At each step, with one replica rolled and the other not, an admin
load on either replica is served by the other. Skipping the middle step splits the fleet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import MlapiProcess, RedisServer
from tests.waiting import wait_until

ADMIN = {"Authorization": "Bearer rotation-admin-key"}
A = "rotation-key-A-0123456789"
B = "rotation-key-B-9876543210"
PHASES = [[A], [A, B], [B, A], [B]]


class Fleet:
    """Replicas started on demand with a key list, stopped with the test."""

    def __init__(self, redis_server: RedisServer, model_dir: Path, workdir: Path) -> None:
        self.env = {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_VARIANT": "onnx-fp32",
            "MLAPI_WORKERS": "0",
            "MLAPI_THREADS": "1",
            "MLAPI_TRIAL_DIR": "",
            "MLAPI_ACCESS_LOG": "false",
            "MLAPI_ADMIN_KEYS": "rotation-admin-key",
            "MLAPI_REDIS_URL": redis_server.url,
            "MLAPI_MODEL_ROOTS": str(workdir.parent),
            "MLAPI_DESIRED_POLL_S": "0.2",
        }
        self.workdir = workdir
        self.started: list[MlapiProcess] = []

    def start(self, keys: list[str]) -> MlapiProcess:
        env = {**self.env, "MLAPI_REDIS_SIGNING_KEYS": ",".join(keys)}
        process = MlapiProcess(env, self.workdir / f"mlapi-{len(self.started)}.log")
        self.started.append(process)
        process.start(timeout=120)
        return process

    def roll(self, process: MlapiProcess, keys: list[str]) -> MlapiProcess:
        """`process` stopped and started again on `keys` (a pod of a rolling update)."""
        process.stop()
        return self.start(keys)


@pytest.fixture
def fleet(redis_server: RedisServer, model_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    made = Fleet(redis_server, model_dir, tmp_path)
    try:
        yield made
    finally:
        for process in made.started:
            process.stop()


def version(process: MlapiProcess) -> str:
    models = httpx.get(f"{process.url}/models", timeout=10).json()["models"]
    served: str = next(m for m in models if m["name"] == "default")["version"]
    return served


def load(process: MlapiProcess, path: Path) -> str:
    """An admin load of `path` on `process`; the version it serves afterwards."""
    response = httpx.post(
        f"{process.url}/models/default/load", json={"path": str(path)}, headers=ADMIN, timeout=60
    )
    assert response.status_code == 200, response.text
    return version(process)


def serves_within(process: MlapiProcess, expected: str) -> bool:
    wait_until(lambda: version(process) == expected, f"version {expected} served")
    return True


def rejected(process: MlapiProcess) -> float:
    """Every record this replica refused (`mlapi_redis_records_rejected_total`, all `what`)."""
    text = httpx.get(f"{process.url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "mlapi_redis_records_rejected_total"
    )


def test_a_rolling_rotation_keeps_one_fleet(
    fleet: Fleet, model_dir: Path, second_model_dir: Path
) -> None:
    paths = [second_model_dir, model_dir]  # loaded in turn: each load is a new version
    first, second = fleet.start(PHASES[0]), fleet.start(PHASES[0])
    loads = 0
    for keys in PHASES[1:]:
        first = fleet.roll(first, keys)  # one pod rolled, the other not yet
        assert version(first) == version(second)  # a new pod joins the desired state
        # The rolled pod loads last: before A is retired, the desired state is signed with B
        # (docs/operations.md, Rotating the signing key).
        for source, follower in ((second, first), (first, second)):
            served = load(source, paths[loads % 2])
            loads += 1
            assert serves_within(follower, served), (keys, source.url, served)
        second = fleet.roll(second, keys)
        assert version(second) == version(first)
    assert rejected(first) == rejected(second) == 0


def test_skipping_the_accepting_step_splits_the_fleet(fleet: Fleet, second_model_dir: Path) -> None:
    """[A] next to [B, A]: B's records are refused by the replica that knows only A."""
    old, new = fleet.start([A]), fleet.start([B, A])
    before = version(old)
    served = load(new, second_model_dir)
    wait_until(lambda: rejected(old) > 0, "a rejected record")
    assert version(old) == before != served
