"""A real `python -m mlapi` whose default model is the crashing test kind, in 2 workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess


def models_yaml(tmp_path: Path, model_dir: Path, workers: int = 2) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(
        f"""
default: victim
models:
  - name: victim
    kind: crashing-classifier
    path: {model_dir}
    settings: {{variant: onnx-fp32, workers: {workers}}}
"""
    )
    return path


def start(tmp_path: Path, model_dir: Path, name: str, **extra: str) -> MlapiProcess:
    env = {
        "MLAPI_MODELS": str(models_yaml(tmp_path, model_dir)),
        "MLAPI_KIND_MODULES": "tests.workers.crashing",
        "MLAPI_THREADS": "2",
        "MLAPI_TRIAL_DIR": "",
        "MLAPI_MAX_WAIT_MS": "20",
        **extra,
    }
    service = MlapiProcess(env, tmp_path / f"{name}.log")
    service.start()
    return service


@pytest.fixture
def service(tmp_path: Path, model_dir: Path) -> Iterator[MlapiProcess]:
    process = start(tmp_path, model_dir, "mlapi")
    try:
        yield process
    finally:
        process.stop()


def workers(url: str) -> list[dict[str, object]]:
    stats = httpx.get(f"{url}/stats", timeout=30).json()
    listed: list[dict[str, object]] = stats["models"]["victim"]["workers"]
    return listed
