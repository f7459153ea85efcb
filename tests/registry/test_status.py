"""The status answers (`/model`, `/models`, `/stats`, v2 metadata): declared in the OpenAPI
schema, and a key without a value is left out only where the answer says so."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.registry.conftest import ADMIN


def answer_schema(client: TestClient, method: str, path: str) -> str:
    operation = client.get("/openapi.json").json()["paths"][path][method]
    schema: dict[str, str] = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def test_status_answers_are_declared(registry_client: TestClient) -> None:
    assert answer_schema(registry_client, "get", "/model") == "ModelSummary"
    assert answer_schema(registry_client, "get", "/models") == "ModelList"
    assert answer_schema(registry_client, "get", "/stats") == "ServiceStats"
    assert answer_schema(registry_client, "get", "/v2/models/{name}") == "ModelMetadata"
    schemas = registry_client.get("/openapi.json").json()["components"]["schemas"]
    assert {"ModelCard", "FleetStatus", "ModelFigures", "ModelIndexEntry"} <= set(schemas)


def test_a_failed_load_is_listed_with_its_reason_and_no_card(
    registry_client: TestClient, tmp_path: Path
) -> None:
    response = registry_client.post(
        "/models/broken/load", json={"path": str(tmp_path)}, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    listing = {m["name"]: m for m in registry_client.get("/models").json()["models"]}
    broken, serving = listing["broken"], listing["sentiment"]
    assert list(broken) == ["name", "version", "state", "reason", "fleet"]
    assert broken["state"] == "UNAVAILABLE" and "config.json" in broken["reason"]
    assert list(serving) == ["name", "version", "state", "card", "fleet"]
    assert serving["fleet"]["desired"] is None and serving["fleet"]["error"] is None
    card = serving["card"]
    assert (card["model"], card["kind"], card["version"]) == ("sentiment", "text-classifier", "1")
    assert card["selection"]["variant"] == card["backend"] == "onnx-fp32"
    stats = registry_client.get("/stats").json()["models"]
    assert list(stats["broken"]) == ["state", "fleet"]
    assert stats["sentiment"]["canary"] is None and stats["sentiment"]["redis"] is None
    assert stats["sentiment"]["fleet"] == serving["fleet"]


def test_model_says_the_summary_only(registry_client: TestClient) -> None:
    summary = registry_client.get("/model").json()
    models = registry_client.get("/models").json()["models"]
    card = next(m["card"] for m in models if m["name"] == "sentiment")
    assert list(summary) == [
        "model", "kind", "version", "name", "backend", "fingerprint", "labels", "max_length",
        "selection",
    ]  # fmt: skip
    assert summary.items() <= card.items()
    assert card["loaded_at"] > 0 and "loaded_at" not in summary
