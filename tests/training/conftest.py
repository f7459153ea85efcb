"""A tiny base model, a tiny TSV it learns in seconds, and an app with the train API on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.trainer.conftest import write_dataset
from tests.waiting import wait_until

ADMIN = {"Authorization": "Bearer admin-key"}
# The trainer's options for a run of a few seconds that the tiny model learns well.
FAST = {
    "max_steps": 100,
    "batch_size": 8,
    "learning_rate": 5e-3,
    "max_length": 16,
    "eval_size": 32,
    "save_every": 20,
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "train.tsv")


@pytest.fixture
def train_settings(
    model_dir: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        model_roots=str(tmp_path_factory.getbasetemp()),  # the folders the tests make
        model_dir=model_dir,
        variant="torch-fp32",
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
        admin_keys="admin-key",  # type: ignore[arg-type]
        train_dir=tmp_path / "train",
        train_data_roots=str(tmp_path),  # the tests' datasets
        train_poll_s=0.2,
    )


@pytest.fixture
def train_client(train_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(train_settings)) as client:
        yield client


def job_body(base: Path, dataset: Path | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "default",
        "base_model": str(base),
        "hyperparameters": dict(FAST),
        "activate": True,
        "min_eval_accuracy": 0.7,
    }
    if dataset is not None:
        body["dataset"] = str(dataset)
    body.update(changes)
    return body


def wait_for(client: Any, job_id: str, states: set[str], timeout: float = 180) -> dict[str, Any]:
    """Polls GET /train/{id} until the job is in one of `states`."""

    def record() -> dict[str, Any] | None:
        found: dict[str, Any] = client.get(f"/train/{job_id}", headers=ADMIN).json()
        return found if found["state"] in states else None

    return wait_until(record, f"job {job_id} in {states}", timeout)
