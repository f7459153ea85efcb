"""The reference contract of /predict, and the operational endpoints."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings


def test_predict_shape_matches_the_reference(client: TestClient) -> None:
    response = client.post("/predict", json={"text": ["I hate you.", "I love you."]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    predictions = response.json()["predictions"]
    assert len(predictions) == 2
    for row in predictions:
        assert [entry["label"] for entry in row] == ["NEGATIVE", "POSITIVE"]
        assert set(row[0]) == {"label", "score"}
        assert sum(entry["score"] for entry in row) == pytest.approx(1.0, abs=1e-6)


def test_labels_follow_id2label_order_not_score_order(client: TestClient) -> None:
    texts = [f"i love the movie {i} " * (i % 5) for i in range(20)]
    rows = client.post("/predict", json={"text": texts}).json()["predictions"]
    winners = {max(row, key=lambda e: e["score"])["label"] for row in rows}
    assert all([e["label"] for e in row] == ["NEGATIVE", "POSITIVE"] for row in rows)
    assert winners, "scores must be present"


def test_empty_strings_and_empty_list_are_valid(client: TestClient) -> None:
    assert len(client.post("/predict", json={"text": [""]}).json()["predictions"]) == 1
    response = client.post("/predict", json={"text": []})
    assert response.status_code == 200
    assert response.json() == {"predictions": []}


def test_duplicates_in_one_request_answer_each_position(client: TestClient) -> None:
    rows = client.post("/predict", json={"text": ["a", "b", "a"]}).json()["predictions"]
    assert rows[0] == rows[2]
    assert len(rows) == 3


def test_cache_header_miss_hit_partial(client: TestClient) -> None:
    first = client.post("/predict", json={"text": ["one", "two"]})
    assert first.headers["x-mlapi-cache"] == "Miss"
    again = client.post("/predict", json={"text": ["two", "one"]})
    assert again.headers["x-mlapi-cache"] == "Hit"
    assert again.json()["predictions"] == first.json()["predictions"][::-1]
    mixed = client.post("/predict", json={"text": ["one", "three"]})
    assert mixed.headers["x-mlapi-cache"] == "Partial"


def test_health_ready_model(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "healthy"}
    assert client.get("/ready").status_code == 200
    card = client.get("/model").json()
    assert card["labels"] == ["NEGATIVE", "POSITIVE"]
    assert card["backend"] == "torch-fp32"
    assert len(card["fingerprint"]) == 16


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]
    schema = predict["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["text"]
    assert "422" in predict["responses"] and "503" in predict["responses"]


def test_request_id_echoed_or_generated(client: TestClient) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = client.post("/predict", json={"text": ["x"]}).headers["x-request-id"]
    assert len(made) == 16


def test_ready_is_503_before_startup(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no `with`: the lifespan has not run
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "loading"}
    refused = client.post("/predict", json={"text": ["x"]})
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "not_ready"
