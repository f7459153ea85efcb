"""Two tiny classifiers with different weights, and a models config serving both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings

ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture
def models_config(tmp_path: Path, model_dir: Path, second_model_dir: Path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(
        f"""
default: sentiment
models:
  - name: sentiment
    path: {model_dir}
    settings: {{variant: onnx-fp32}}
  - name: other
    path: {second_model_dir}
    settings: {{variant: torch-fp32, max_batch_size: 8}}
"""
    )
    return path


@pytest.fixture
def registry_settings(models_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        models=models_config,
        model_roots=str(tmp_path_factory.getbasetemp()),  # the folders the tests make
        admin_keys="admin-key",
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
        max_wait_ms=1.0,
    )


@pytest.fixture
def registry_client(registry_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(registry_settings)) as client:
        yield client
