"""A full queue answers 503 + Retry-After at once; a failed batch fails only its requests."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.fakes import POISON, fake_loader


def test_flood_beyond_the_queue_gets_503_with_retry_after(settings: Settings) -> None:
    tight = settings.model_copy(
        update={"max_queue": 8, "max_texts": 4, "max_batch_size": 4, "max_wait_ms": 0}
    )
    made, loader = fake_loader(delay_s=0.2)
    app = create_app(tight, loader=loader)

    async def flood() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                requests = [
                    client.post("/predict", json={"text": [f"t{i}-{j}" for j in range(4)]})
                    for i in range(30)
                ]
                return await asyncio.wait_for(asyncio.gather(*requests), timeout=30)

    started = time.monotonic()
    responses = asyncio.run(flood())
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in responses]
    assert set(codes) == {200, 503}, codes
    rejected = [r for r in responses if r.status_code == 503]
    assert len(rejected) >= 20
    for response in rejected:
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["type"] == "overloaded"
        assert response.json()["error"]["limit"] == "max_queue"
    assert elapsed < 10, "rejections are immediate, not queued"
    assert all(len(batch) <= 4 for batch in made[0].batches)


def test_model_error_fails_its_batch_and_the_service_goes_on(settings: Settings) -> None:
    _, loader = fake_loader()
    with TestClient(create_app(settings, loader=loader)) as client:
        failed = client.post("/predict", json={"text": [POISON]})
        assert failed.status_code == 500
        assert failed.json()["error"]["type"] == "model_error"
        ok = client.post("/predict", json={"text": ["fine"]})
        assert ok.status_code == 200
        assert client.get("/ready").status_code == 200
        assert "mlapi_model_errors_total" in client.get("/metrics").text
