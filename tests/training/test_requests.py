"""Job requests that cannot run get a typed 4xx, never a 500, and start nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.training.conftest import ADMIN, job_body


def error(client: TestClient, body: Any, status: int, headers: dict[str, str] = ADMIN) -> str:
    answer = client.post("/train", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    found: str = answer.json()["error"]["type"] + ": " + answer.json()["error"]["message"]
    return found


def test_the_admin_key_is_required(
    train_client: TestClient, model_dir: Path, dataset: Path
) -> None:
    body = job_body(model_dir, dataset)
    assert error(train_client, body, 403, {}).startswith("forbidden")
    bearer = {"Authorization": "Bearer wrong"}
    assert error(train_client, body, 403, bearer).startswith("forbidden")
    for method, path in (("GET", "/train"), ("GET", "/train/x"), ("DELETE", "/train/x")):
        assert train_client.request(method, path).status_code == 403


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "Bad Name"}, "model: String should match pattern"),
        ({"base_model": "relative/path"}, "base_model: Value error, must be an absolute path"),
        ({"base_model": "/nowhere"}, "base_model /nowhere is not a model folder"),
        ({"dataset": "/etc/passwd"}, "dataset must be a .tsv, .tab or .csv file"),
        ({"dataset": None}, "give exactly one of dataset (a path) and dataset_content"),
        ({"dataset_content": "sentence\tlabel\n"}, "give exactly one of dataset"),
        ({"labels": ["ONLY"]}, "labels: List should have at least 2 items"),
        ({"labels": ["A", "A"]}, "labels must be distinct"),
        ({"hyperparameters": {"batch_size": 0}}, "hyperparameters.batch_size: Input should be"),
        ({"hyperparameters": {"learning_rate": 2}}, "hyperparameters.learning_rate"),
        ({"hyperparameters": {"max_length": 4}}, "hyperparameters.max_length"),
        ({"hyperparameters": {"eval_size": 2.5}}, "a fraction below 1 or a whole count"),
        ({"hyperparameters": {"output": "/etc"}}, "hyperparameters.output: Extra inputs"),
        ({"hyperparameters": {"text_column": "a\tb"}}, "hyperparameters.text_column"),
        ({"min_eval_accuracy": 1.5}, "min_eval_accuracy: Input should be less than or equal"),
        ({"model_settings": {"colour": "red"}}, "not per-model settings: ['colour']"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_invalid_jobs_are_422(
    train_client: TestClient,
    model_dir: Path,
    dataset: Path,
    changes: dict[str, Any],
    message: str,
) -> None:
    found = error(train_client, {**job_body(model_dir, dataset), **changes}, 422)
    assert found.startswith("invalid_training_job: ") and message in found, found
    assert train_client.get("/train", headers=ADMIN).json() == {"jobs": []}


def test_files_outside_the_roots_are_refused(
    train_settings: Settings, model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    narrow = train_settings.model_copy(
        update={"model_roots": str(model_dir.parent), "train_data_roots": str(dataset.parent)}
    )
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(model_dir, elsewhere)  # a model folder, outside MLAPI_MODEL_ROOTS
    with TestClient(create_app(narrow)) as client:
        found = error(client, job_body(elsewhere, dataset), 403)
        assert found.startswith("path_not_allowed: ") and str(elsewhere) in found
        outside = {**job_body(model_dir, dataset), "dataset": "/etc/hosts.tsv"}
        assert error(client, outside, 403).startswith("path_not_allowed: /etc/hosts.tsv")
        missing = {**job_body(model_dir, dataset), "dataset": str(tmp_path / "missing.tsv")}
        assert "is not a file" in error(client, missing, 422)
        assert client.get("/train", headers=ADMIN).json() == {"jobs": []}


def test_not_json_and_not_an_object(train_client: TestClient) -> None:
    answer = train_client.post("/train", content=b"{nope", headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["error"]["type"] == "invalid_json"
    assert error(train_client, [1, 2], 422).startswith("invalid_training_job: body: Input")


def test_an_upload_over_the_limit_is_413(
    train_client: TestClient, model_dir: Path, train_settings: Any
) -> None:
    rows = "sentence\tlabel\n" + "good fun movie\t1\n" * 700_000  # > 10 MB
    body = job_body(model_dir, dataset_content=rows)
    found = error(train_client, body, 413)
    assert found.startswith("body_too_large") and "MLAPI_TRAIN_MAX_UPLOAD_BYTES" in found


def test_an_upload_just_over_the_limit_is_413_too(
    train_settings: Settings, model_dir: Path
) -> None:
    small = train_settings.model_copy(update={"train_max_upload_bytes": 1000})
    with TestClient(create_app(small)) as client:
        body = job_body(model_dir, dataset_content="sentence\tlabel\n" + "fun\t1\n" * 200)
        found = error(client, body, 413)
    assert found == (
        "body_too_large: dataset_content is larger than 1000 bytes (MLAPI_TRAIN_MAX_UPLOAD_BYTES)"
    )


def test_unknown_jobs_are_404(train_client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        answer = train_client.request(method, "/train/0123456789abcdef", headers=ADMIN)
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "job_not_found"
    answer = train_client.post("/train/0123456789abcdef/activate", headers=ADMIN)
    assert answer.status_code == 404


def test_a_model_of_another_kind_cannot_be_replaced_by_a_classifier(
    train_client: TestClient, model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    from trainer.tabular import train

    train(tmp_path / "cancer")
    loaded = train_client.post(
        "/models/cancer/load",
        json={"path": str(tmp_path / "cancer"), "kind": "tabular"},
        headers=ADMIN,
    )
    assert loaded.status_code == 200, loaded.text
    found = error(train_client, job_body(model_dir, dataset, model="cancer"), 422)
    assert "model 'cancer' is a tabular model, not a text-classifier" in found
