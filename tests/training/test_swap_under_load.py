"""The whole cycle on a real server: POST /train -> running -> succeeded -> serving, under load.

`python -m mlapi` runs as a subprocess with its job records in a real redis-server; the local
runner starts `python -m trainer` beside it. A steady stream of /predict requests runs from
before the job is posted until after the new version serves: none of them may fail.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.servers import MlapiProcess, RedisServer
from tests.training.conftest import ADMIN, job_body

pytestmark = pytest.mark.slow
RATE = 40  # requests/s


async def load(url: str, stop: asyncio.Event, out: list[tuple[int, str]]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(i: int) -> None:
            try:
                r = await client.post("/predict", json={"text": ["great fun", f"plot {i}"]})
                out.append((r.status_code, r.headers.get("X-MLAPI-Model-Version", "")))
            except httpx.HTTPError as exc:
                out.append((0, type(exc).__name__))

        tasks = []
        began, i = time.perf_counter(), 0
        while not stop.is_set():
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            pace = began + i / RATE - time.perf_counter()
            await asyncio.sleep(max(0.0, pace))  # paced load: RATE requests/s
        await asyncio.gather(*tasks)


async def cycle(url: str, body: dict[str, Any]) -> tuple[dict[str, Any], float, list[str]]:
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=ADMIN) as admin:
        started = time.perf_counter()
        answer = await admin.post("/train", json=body)
        assert answer.status_code == 202, answer.text
        seen = []
        while True:
            record: dict[str, Any] = (await admin.get(answer.headers["Location"])).json()
            seen.append(record["state"])
            if record["state"] in {"succeeded", "failed", "cancelled"}:
                return record, time.perf_counter() - started, seen
            await asyncio.sleep(0.1)  # the poll interval of a client following its job


def test_a_trained_model_goes_live_under_load(
    model_dir: Path, dataset: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_VARIANT": "torch-fp32",
        "MLAPI_THREADS": "1",
        "MLAPI_ADMIN_KEYS": "admin-key",
        "MLAPI_REDIS_URL": redis_server.url,
        "MLAPI_REDIS_SIGNING_KEY": "swap-test-signing-key",
        "MLAPI_TRAIN_DATA_ROOTS": str(dataset.parent),
        "MLAPI_TRAIN_DIR": str(tmp_path / "train"),
        "MLAPI_TRAIN_POLL_S": "0.2",
        "MLAPI_ACCESS_LOG": "false",
    }
    service = MlapiProcess(env, tmp_path / "mlapi.log")
    service.start()
    try:

        async def scenario() -> tuple[dict[str, Any], float, list[str], list[tuple[int, str]]]:
            stop, answers = asyncio.Event(), []
            driver = asyncio.create_task(load(service.url, stop, answers))
            await asyncio.sleep(1.0)  # a second of load before the job: the baseline
            record, seconds, seen = await cycle(service.url, job_body(model_dir, dataset))
            await asyncio.sleep(1.0)  # and a second of load after the swap
            stop.set()
            await driver
            return record, seconds, seen, answers

        record, seconds, seen, answers = asyncio.run(scenario())
    finally:
        service.stop()
    assert record["state"] == "succeeded", record
    assert "running" in seen and record["activation"]["activated"] is True
    failures = [a for a in answers if a[0] != 200]
    assert failures == [], failures[:5]
    versions = [version for _, version in answers]
    assert versions[0] == "1" and versions[-1] == record["activation"]["version"] == "2"
    assert versions == sorted(versions), "no request saw the old version after the new one"
    print(
        f"\ntrain cycle: {seconds:.1f} s from POST /train to succeeded+serving, "
        f"{len(answers)} requests, 0 failures"
    )
