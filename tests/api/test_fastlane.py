"""The fast lane answers the predict routes exactly as the FastAPI routes would."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mlapi.app import create_app
from mlapi.fastlane import NAMED, PREDICT, FastLane, match
from mlapi.settings import Settings

LONGEST = Settings.model_fields["max_text_chars"].default
MOST = Settings.model_fields["max_texts"].default
# (path, JSON body or raw bytes): answers, typed refusals and routing misses.
CASES: list[tuple[str, Any]] = [
    ("/predict", {"text": ["I love it", "I hate it"]}),
    ("/predict", {"text": ["I love it"]}),  # now a cache hit on both apps
    ("/models/default/predict", {"text": ["named route"]}),
    ("/models/nope/predict", {"text": ["x"]}),
    ("/predict", {"text": "not a list"}),
    ("/predict", {"text": [1, 2]}),
    ("/predict", {"texts": ["wrong field"]}),
    ("/predict", b"{not json"),
    ("/predict", {"text": ["x" * (LONGEST + 1)]}),
    ("/predict", {"text": ["x"] * (MOST + 1)}),
]
COMPARED_HEADERS = ("content-type", "x-mlapi-cache", "x-mlapi-model-version", "retry-after")


def _answers(client: TestClient) -> list[tuple[int, Any, dict[str, str]]]:
    answers = []
    for path, body in CASES:
        if isinstance(body, bytes):
            response = client.post(path, content=body)
        else:
            response = client.post(path, json=body)
        headers = {k: response.headers[k] for k in COMPARED_HEADERS if k in response.headers}
        answers.append((response.status_code, response.json(), headers))
    return answers


def test_fast_lane_answers_like_the_routes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    answer = FastLane._answer

    async def counted(self: FastLane, request: Any, name: str | None) -> Any:
        nonlocal calls
        calls += 1
        return await answer(self, request, name)

    monkeypatch.setattr(FastLane, "_answer", counted)
    with TestClient(create_app(settings)) as client:
        fast = _answers(client)
    assert calls == len(CASES)

    routes_only = create_app(settings)
    routes_only.fast_stack = None  # every request through FastAPI's router
    with TestClient(routes_only) as client:
        slow = _answers(client)
    assert calls == len(CASES)
    assert fast == slow
    statuses = [status for status, _, _ in fast]
    assert statuses == [200, 200, 200, 404, 422, 422, 422, 422, 422, 422]
    assert fast[1][2]["x-mlapi-cache"] == "Hit"


def test_other_methods_and_paths_go_to_fastapi(client: TestClient) -> None:
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "method_not_allowed"
    for path in ("/models//predict", "/models/a/b/predict"):
        response = client.post(path, json={"text": ["x"]})
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found"
    slash = client.post("/predict/", json={"text": ["x"]}, follow_redirects=False)
    assert slash.status_code == 307  # FastAPI's own redirect to /predict
    assert client.post("/predict", json={"text": ["still serving"]}).status_code == 200


def test_match() -> None:
    def scope(method: str, path: str) -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path}

    assert match(scope("POST", "/predict")) == (PREDICT, None)
    assert match(scope("POST", "/models/sst2/predict")) == (NAMED, "sst2")
    assert match(scope("POST", "/models/with space/predict")) == (NAMED, "with space")
    for method, path in (
        ("GET", "/predict"),
        ("POST", "/models//predict"),
        ("POST", "/models/a/b/predict"),
        ("POST", "/models/predict"),
        ("POST", "/v2/models/a/infer"),
    ):
        assert match(scope(method, path)) is None, (method, path)


def test_request_id_and_metrics_on_the_fast_lane(client: TestClient) -> None:
    answered = client.post("/predict", json={"text": ["id"]}, headers={"X-Request-ID": "abc-1"})
    assert answered.headers["x-request-id"] == "abc-1"
    made = client.post("/models/default/predict", json={"text": ["id"]})
    assert len(made.headers["x-request-id"]) == 16
    client.post("/models/nope/predict", json={"text": ["id"]})
    text = client.get("/metrics").text
    assert 'http_requests_total{handler="/predict",method="POST",status="200"}' in text
    named = 'handler="/models/{name}/predict",method="POST",status="%s"'
    assert "http_requests_total{" + named % 200 + "}" in text
    assert "http_requests_total{" + named % 404 + "}" in text
    assert 'handler="/metrics"' not in text
