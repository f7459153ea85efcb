"""Named models side by side, loads and unloads through the admin API, typed refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from tests.agreement import assert_agree, assert_differ
from tests.registry.conftest import ADMIN

TEXTS = ["I love you.", "I hate you."]


def scores(client: TestClient, path: str, texts: list[str] = TEXTS) -> list[list[float]]:
    response = client.post(path, json={"text": texts})
    assert response.status_code == 200, response.text
    return [[e["score"] for e in row] for row in response.json()["predictions"]]


def backend(client: TestClient, name: str) -> str:
    """The variant a model's card says it serves (`auto` is chosen by a timed trial)."""
    models = client.get("/models").json()["models"]
    card: dict[str, str] = next(m for m in models if m["name"] == name)["card"]
    return card["backend"]


def test_two_models_answer_side_by_side(registry_client: TestClient) -> None:
    default = scores(registry_client, "/predict")
    sentiment = scores(registry_client, "/models/sentiment/predict")
    assert_agree(sentiment, default, ("onnx-fp32", "onnx-fp32"))
    assert_differ(scores(registry_client, "/models/other/predict"), default)  # other weights
    listing = registry_client.get("/models").json()
    assert listing["default"] == "sentiment"
    by_name = {m["name"]: m for m in listing["models"]}
    assert by_name["sentiment"]["card"]["backend"] == "onnx-fp32"
    assert by_name["other"]["card"]["backend"] == "torch-fp32"
    assert by_name["sentiment"]["card"]["fingerprint"] != by_name["other"]["card"]["fingerprint"]


def test_unknown_model_is_a_typed_404(registry_client: TestClient) -> None:
    response = registry_client.post("/models/nope/predict", json={"text": ["x"]})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "model_not_found"


def test_admin_needs_an_admin_key(registry_client: TestClient, second_model_dir: Path) -> None:
    body = {"path": str(second_model_dir)}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = registry_client.post("/models/sentiment/load", json=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "forbidden"
    assert registry_client.post("/v2/repository/index").status_code == 403
    assert registry_client.get("/v2/health/live").status_code == 200  # probes stay open


def test_load_replaces_the_version_and_the_cache_follows(
    registry_client: TestClient, second_model_dir: Path
) -> None:
    before = scores(registry_client, "/predict")
    card = registry_client.post(
        "/models/sentiment/load", json={"path": str(second_model_dir)}, headers=ADMIN
    ).json()
    assert card["version"] == "2"
    response = registry_client.post("/predict", json={"text": TEXTS})
    assert response.headers["X-MLAPI-Model-Version"] == "2"
    assert response.headers["X-MLAPI-Cache"] == "Miss"  # a new fingerprint: a new namespace
    after = [[e["score"] for e in row] for row in response.json()["predictions"]]
    assert_differ(after, before)
    other = scores(registry_client, "/models/other/predict")
    assert_agree(after, other, (card["backend"], backend(registry_client, "other")))


def test_a_broken_folder_is_refused_and_the_old_version_serves(
    registry_client: TestClient, model_dir: Path, tmp_path: Path
) -> None:
    before = scores(registry_client, "/predict")
    no_weights = tmp_path / "no-weights"
    shutil.copytree(model_dir, no_weights, ignore=shutil.ignore_patterns("*.onnx"))
    bad_config = tmp_path / "bad-config"
    shutil.copytree(model_dir, bad_config)
    (bad_config / "config.json").write_text("{not json")
    for folder in (no_weights, bad_config, tmp_path / "missing"):
        response = registry_client.post(
            "/models/sentiment/load", json={"path": str(folder)}, headers=ADMIN
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["type"] == "model_load_failed"
        assert "version 1 keeps serving" in error["message"]
    assert_agree(scores(registry_client, "/predict"), before, ("onnx-fp32", "onnx-fp32"))
    assert registry_client.get("/ready").status_code == 200
    index = registry_client.post("/v2/repository/index", headers=ADMIN).json()
    assert {"name": "sentiment", "version": "1", "state": "READY"}.items() <= next(
        e for e in index if e["name"] == "sentiment"
    ).items()


def test_unload_refuses_the_default_and_frees_others(registry_client: TestClient) -> None:
    response = registry_client.delete("/models/sentiment", headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "model_in_use"
    assert registry_client.delete("/models/other", headers=ADMIN).status_code == 200
    assert registry_client.post("/models/other/predict", json={"text": ["x"]}).status_code == 404
    assert registry_client.get("/ready").status_code == 200
    assert "other" not in registry_client.get("/stats").json()["models"]


def test_repository_extension_loads_by_path(registry_client: TestClient, model_dir: Path) -> None:
    response = registry_client.post(
        "/v2/repository/models/third/load",
        json={"parameters": {"path": str(model_dir)}},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    third = scores(registry_client, "/models/third/predict")
    variants = (backend(registry_client, "third"), backend(registry_client, "sentiment"))
    assert_agree(third, scores(registry_client, "/predict"), variants)
    assert registry_client.post("/v2/repository/models/third/unload", headers=ADMIN).json() == {}
    missing = registry_client.post("/v2/repository/models/sentiment/unload", headers=ADMIN)
    assert missing.status_code == 409
    assert set(missing.json()) == {"error"}  # the v2 error body
