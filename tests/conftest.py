"""Shared fixtures: a tiny real model folder, app clients, and a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.settings import Settings
from mlapi.tools.export import export
from mlapi.tools.synthetic import tiny_distilbert
from tests.binaries import require_binary


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DistilBERT saved with save_pretrained, plus its ONNX fp32 and int8 exports."""
    path = tiny_distilbert(tmp_path_factory.mktemp("models") / "tiny")
    export(path)
    return path


@pytest.fixture(scope="session")
def second_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture as `model_dir`, other weights: other answers, other fingerprint."""
    path = tiny_distilbert(tmp_path_factory.mktemp("models-b") / "tiny-b", seed=1)
    export(path)
    return path


@pytest.fixture
def settings(model_dir: Path) -> Settings:
    """In-process model (workers=0): the worker processes have their own tests."""
    return Settings(
        model_dir=model_dir,
        workers=0,
        variant="torch-fp32",
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
        max_wait_ms=1.0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = require_binary("redis-server")
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
