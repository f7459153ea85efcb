"""SIGTERM under load: /ready turns 503 at once, all accepted requests complete, clean exit."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from harness.servers import MlapiProcess
from tests.waiting import async_wait_until


async def queued(client: httpx.AsyncClient, requests: int = 50) -> bool:
    """The server holds every request in flight (the queue-depth gauge cannot say: the batcher
    moves texts out of the queue into the batch it is filling). /stats counts itself too."""
    stats = (await client.get("/stats")).json()
    return bool(stats["inflight_requests"] > requests)


def test_sigterm_drains_50_in_flight_requests(model_dir: Path, tmp_path: Path) -> None:
    # A batch waits up to 1.5 s to fill, so the 50 requests are still queued at SIGTERM.
    service = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_MAX_WAIT_MS": "1500",
            "MLAPI_MAX_BATCH_SIZE": "64",
            "MLAPI_DRAIN_GRACE_S": "20",
            "MLAPI_THREADS": "1",
        },
        tmp_path / "mlapi.log",
    )
    service.start()
    assert service.process is not None
    try:

        async def scenario() -> tuple[list[int], list[int]]:
            limits = httpx.Limits(max_connections=60)
            async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=30) as client:
                inflight = [
                    asyncio.create_task(client.post("/predict", json={"text": [f"drain {i}"]}))
                    for i in range(50)
                ]
                await async_wait_until(
                    lambda: queued(client), "50 requests in flight at the server"
                )
                assert not any(task.done() for task in inflight)
                assert service.process is not None
                service.process.send_signal(signal.SIGTERM)
                ready_codes = []
                async with httpx.AsyncClient(base_url=service.url, timeout=30) as probe:
                    for _ in range(5):
                        ready_codes.append((await probe.get("/ready")).status_code)
                results = await asyncio.gather(*inflight)
                return [r.status_code for r in results], ready_codes

        codes, ready_codes = asyncio.run(scenario())
        assert codes == [200] * 50
        assert ready_codes and set(ready_codes) == {503}
        started = time.monotonic()
        assert service.process.wait(timeout=20) == 0
        assert time.monotonic() - started < 20
    finally:
        service.stop()
    log = (tmp_path / "mlapi.log").read_text()
    assert '"msg":"drained; shutting down"' in log


def test_offline_without_model_exits_with_a_clear_message(tmp_path: Path) -> None:
    service = MlapiProcess({"MLAPI_MODEL_DIR": str(tmp_path / "missing")}, tmp_path / "mlapi.log")
    try:
        service.start()
    except RuntimeError as exc:
        assert "MLAPI_MODEL_DIR" in str(exc)
    else:
        raise AssertionError("mlapi started without a model")
    finally:
        service.stop()
    assert service.process is not None and service.process.returncode != 0
