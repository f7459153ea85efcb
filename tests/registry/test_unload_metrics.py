"""Unloading a model removes every metric series it had; the models that stay keep theirs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings

ADMIN = {"Authorization": "Bearer admin-key"}


def series_of(client: TestClient, model: str) -> set[str]:
    """The metric names that carry `model="<model>"` in /metrics."""
    text = client.get("/metrics").text
    return {
        line.split("{", 1)[0]
        for line in text.splitlines()
        if not line.startswith("#") and re.search(rf'[{{,]model="{re.escape(model)}"', line)
    }


@pytest.fixture
def client(
    model_dir: Path,
    second_model_dir: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    config = tmp_path / "models.yaml"
    config.write_text(
        f"default: sentiment\nmodels:\n"
        f"  - {{name: sentiment, path: {model_dir}, settings: {{variant: onnx-fp32}}}}\n"
        f"  - {{name: gone, path: {second_model_dir}, "
        f"settings: {{variant: onnx-fp32, workers: 1}}}}\n"
    )
    settings = Settings(
        models=config,
        model_roots=str(tmp_path_factory.getbasetemp()),
        admin_keys="admin-key",
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
        max_wait_ms=1.0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_unload_removes_the_models_series(client: TestClient) -> None:
    for name in ("gone", "sentiment"):
        for _ in range(2):  # a miss, then a hit
            answer = client.post(f"/models/{name}/predict", json={"text": ["a text", "another"]})
            assert answer.status_code == 200
    before = series_of(client, "gone")
    expected = {
        "mlapi_cache_hits_total",
        "mlapi_cache_misses_total",
        "mlapi_queue_depth",
        "mlapi_batch_size_bucket",
        "mlapi_inference_seconds_count",
        "mlapi_model_info",
        "mlapi_model_loads_total",
        "mlapi_workers_alive",
    }
    assert expected <= before, expected - before
    kept = series_of(client, "sentiment")

    assert client.delete("/models/gone", headers=ADMIN).status_code == 200
    assert series_of(client, "gone") == set()
    assert series_of(client, "sentiment") == kept
