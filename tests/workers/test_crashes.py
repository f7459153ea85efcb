"""A worker killed mid-batch loses no request; a text that kills workers fails only itself."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
import redis

from harness.servers import MlapiProcess, RedisServer
from mlapi.runtime import load_classifier
from mlapi.settings import Settings
from mlapi.shared.signing import Signer
from mlapi.workers.poison import digest
from tests.waiting import WAIT_S, wait_until
from tests.workers.conftest import start, workers
from tests.workers.crashing import BROKEN, POISON, SLOW

pytestmark = pytest.mark.slow
SIGNING_KEY = "test-signing-key-0123456789"


def expected(model_dir: Path, texts: list[str]) -> list[float]:
    """Positive-label scores of the same model, in this process (no workers)."""
    settings = Settings(model_dir=model_dir, variant="onnx-fp32", trial_dir=None, threads=1)
    classifier = load_classifier(settings, model_dir)
    try:
        return [float(row[-1]) for row in classifier.predict(texts)]
    finally:
        classifier.close()


async def post_all(url: str, bodies: list[list[str]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return list(
            await asyncio.gather(*(client.post("/predict", json={"text": b}) for b in bodies))
        )


def restarts(url: str) -> int:
    return sum(int(str(w["restarts"])) for w in workers(url))


def wait_for_workers(url: str, count: int = 2, timeout: float = WAIT_S) -> None:
    wait_until(
        lambda: sum(1 for w in workers(url) if w["state"] == "idle") == count,
        f"{count} idle workers",
        timeout,
    )


def test_sigkill_mid_batch_answers_every_request(service: MlapiProcess, model_dir: Path) -> None:
    bodies = [[f"{SLOW} request {i}", f"shared text {i % 3}"] for i in range(12)]

    async def scenario() -> list[httpx.Response]:
        sending = asyncio.create_task(post_all(service.url, bodies))
        await asyncio.to_thread(
            wait_until,
            lambda: any(w["state"] == "busy" for w in workers(service.url)),
            "a busy worker",
            5,
        )
        busy = next(w for w in workers(service.url) if w["state"] == "busy")
        os.kill(int(str(busy["pid"])), signal.SIGKILL)
        return await sending

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * len(bodies)
    texts = [t for b in bodies for t in b]
    scores = [row[-1]["score"] for r in responses for row in r.json()["predictions"]]
    assert scores == pytest.approx(expected(model_dir, texts), abs=1e-5)
    wait_for_workers(service.url)
    assert restarts(service.url) == 1
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'mlapi_worker_restarts_total{model="victim"} 1.0' in metrics


def test_a_poison_text_fails_alone_and_is_refused_from_then_on(service: MlapiProcess) -> None:
    bodies = [[f"neighbour {i}"] for i in range(10)]
    bodies.insert(4, [POISON])
    bodies.insert(7, ["mixed with", POISON])
    responses = asyncio.run(post_all(service.url, bodies))
    for body, response in zip(bodies, responses, strict=True):
        if POISON in body:
            assert response.status_code == 422, response.text
            assert response.json()["error"]["type"] == "input_crashed_model"
        else:
            assert response.status_code == 200, response.text
    assert httpx.get(f"{service.url}/ready").status_code == 200
    wait_for_workers(service.url)
    crashes = restarts(service.url)
    assert crashes >= 2  # killed twice before it was isolated

    again = httpx.post(f"{service.url}/predict", json={"text": [POISON]}, timeout=60)
    assert again.status_code == 422
    assert restarts(service.url) == crashes  # refused, not run again
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'mlapi_inputs_crashed_model_total{model="victim",outcome="isolated"} 1.0' in metrics


def test_a_second_replica_sharing_redis_refuses_a_known_poison(
    tmp_path: Path, model_dir: Path, redis_server: RedisServer
) -> None:
    shared = {"MLAPI_REDIS_URL": redis_server.url, "MLAPI_REDIS_SIGNING_KEY": SIGNING_KEY}
    first = start(tmp_path, model_dir, "a", **shared)
    try:
        r = httpx.post(f"{first.url}/predict", json={"text": [POISON]}, timeout=60)
        assert r.status_code == 422
    finally:
        first.stop()
    second = start(tmp_path, model_dir, "b", **shared)
    try:
        r = httpx.post(f"{second.url}/predict", json={"text": [POISON, "fine"]}, timeout=60)
        assert r.status_code == 422
        assert r.json()["error"]["type"] == "input_crashed_model"
        ok = httpx.post(f"{second.url}/predict", json={"text": ["fine"]}, timeout=60)
        assert ok.status_code == 200
        assert restarts(second.url) == 0  # refused from Redis, never run
    finally:
        second.stop()


def test_a_poison_entry_written_without_the_key_refuses_nothing(
    tmp_path: Path, model_dir: Path, redis_server: RedisServer
) -> None:
    shared = {"MLAPI_REDIS_URL": redis_server.url, "MLAPI_REDIS_SIGNING_KEY": SIGNING_KEY}
    service = start(tmp_path, model_dir, "a", **shared)
    try:
        fingerprint = httpx.get(f"{service.url}/stats").json()["models"]["victim"]["fingerprint"]
        key = f"mlapi:poison:{fingerprint}"
        forged = [
            digest("innocent").encode(),  # the old, unsigned member
            Signer("not-the-signing-key").seal(key, digest("innocent").encode()),
            Signer(SIGNING_KEY).seal("mlapi:poison:other", digest("innocent").encode()),
        ]
        redis.Redis.from_url(redis_server.url).sadd(key, *forged)
        r = httpx.post(f"{service.url}/predict", json={"text": ["innocent"]}, timeout=60)
        assert r.status_code == 200, r.text
    finally:
        service.stop()


def test_a_model_error_fails_its_batch_and_the_worker_lives_on(service: MlapiProcess) -> None:
    pids = {w["pid"] for w in workers(service.url)}
    r = httpx.post(f"{service.url}/predict", json={"text": [BROKEN]}, timeout=30)
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "model_error"
    ok = httpx.post(f"{service.url}/predict", json={"text": ["fine"]}, timeout=30)
    assert ok.status_code == 200
    assert {w["pid"] for w in workers(service.url)} == pids


def test_workers_stop_with_the_server(tmp_path: Path, model_dir: Path) -> None:
    process = start(tmp_path, model_dir, "stop")
    pids = [int(str(w["pid"])) for w in workers(process.url)]
    listed = workers(process.url)
    assert len(listed) == 2 and all(w["state"] == "idle" for w in listed)
    process.stop()
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids),
        "exit of the worker processes with the server",
    )


def test_a_worker_that_hangs_past_the_batch_timeout_is_killed_and_replaced(
    tmp_path: Path, model_dir: Path
) -> None:
    process = start(tmp_path, model_dir, "hang", MLAPI_WORKER_BATCH_TIMEOUT_S="0.3")
    try:
        stuck = httpx.post(f"{process.url}/predict", json={"text": [f"{SLOW} hangs"]}, timeout=60)
        assert stuck.status_code == 422  # held its worker past the timeout, twice
        assert stuck.json()["error"]["type"] == "input_crashed_model"
        fine = httpx.post(f"{process.url}/predict", json={"text": ["fine"]}, timeout=60)
        assert fine.status_code == 200
        wait_for_workers(process.url)
        assert restarts(process.url) == 2  # both killed, both replaced
    finally:
        process.stop()
