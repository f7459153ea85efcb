"""The inference endpoint: it answers every inference route, exactly as the declared routes
would, renders errors in each protocol's format, and logs and counts like any route."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.http.endpoint import InferenceEndpoint
from mlapi.http.routes import inference
from mlapi.http.routes.inference import NAMED, PREDICT, TEMPLATES, V2_INFER, match
from mlapi.settings import Settings

LONGEST = Settings.model_fields["max_text_chars"].default
MOST = Settings.model_fields["max_texts"].default
V2_TEXTS = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["v2"]}]}
# (path, JSON body or raw bytes): answers, typed refusals and routing misses, every protocol.
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
    ("/v2/models/default/infer", V2_TEXTS),
    ("/v2/models/default/versions/1/infer", V2_TEXTS),
    ("/v2/models/default/versions/9/infer", V2_TEXTS),
    ("/v2/models/nope/infer", V2_TEXTS),
    ("/v2/models/default/infer", b"{not json"),
    ("/embed", {"inputs": ["no embedding model here"]}),
    ("/v1/embeddings", {"model": "default", "input": ["a classifier"]}),
]
STATUSES = [200, 200, 200, 404, 422, 422, 422, 422, 422, 422, 200, 200, 404, 404, 422, 404, 422]
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


def test_the_endpoint_answers_like_the_declared_routes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    answer = InferenceEndpoint.answer

    async def counted(self: InferenceEndpoint, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        return await answer(self, *args)

    monkeypatch.setattr(InferenceEndpoint, "answer", counted)
    with TestClient(create_app(settings)) as client:
        fast = _answers(client)
    assert calls == len(CASES)

    routed = create_app(settings)
    monkeypatch.setattr(routed, "_stack", None)  # every request through FastAPI's router
    with TestClient(routed) as client:
        slow = _answers(client)
    assert calls == 2 * len(CASES)  # the declarations hand their requests to the endpoint
    assert fast == slow
    assert [status for status, _, _ in fast] == STATUSES
    assert fast[1][2]["x-mlapi-cache"] == "Hit"


def test_errors_in_each_protocols_format(client: TestClient) -> None:
    v2 = client.post("/v2/models/nope/infer", json=V2_TEXTS)
    assert v2.status_code == 404 and isinstance(v2.json()["error"], str)
    typed = client.post("/v1/embeddings", json={"model": "default", "input": "x"})
    assert typed.status_code == 422
    assert typed.json()["error"]["type"] == "not_supported_by_model"
    assert "classify" in typed.json()["error"]["message"]
    no_model = client.post("/embed", json={"inputs": "x"}).json()["error"]
    assert no_model["type"] == "model_not_found"


def test_every_declared_inference_route_is_the_endpoints() -> None:
    declared_routes = [r for r in inference.router.routes if isinstance(r, APIRoute)]
    assert sorted(r.path for r in declared_routes) == sorted(TEMPLATES)
    samples = {"{name}": "m", "{version}": "2"}
    for route in declared_routes:
        path = route.path
        for param, value in samples.items():
            path = path.replace(param, value)
        found = match({"type": "http", "method": "POST", "path": path})
        assert found is not None and found.route.template == route.path, route.path


def test_other_methods_and_paths_go_to_fastapi(client: TestClient) -> None:
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "method_not_allowed"
    for path in ("/models//predict", "/models/a/b/predict"):
        response = client.post(path, json={"text": ["x"]})
        assert response.status_code == 404, path
    slash = client.post("/predict/", json={"text": ["x"]}, follow_redirects=False)
    assert slash.status_code == 307  # FastAPI's own redirect to /predict
    assert client.post("/predict", json={"text": ["still serving"]}).status_code == 200


def test_match() -> None:
    def found(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        route = match({"type": "http", "method": method, "path": path})
        return None if route is None else (route.route.template, dict(route.params))

    assert found("POST", "/predict") == (PREDICT, {})
    assert found("POST", "/models/sst2/predict") == (NAMED, {"name": "sst2"})
    assert found("POST", "/models/with space/predict") == (NAMED, {"name": "with space"})
    assert found("POST", "/v2/models/a/infer") == (V2_INFER, {"name": "a"})
    for method, path in (
        ("GET", "/predict"),
        ("POST", "/models//predict"),
        ("POST", "/models/a/b/predict"),
        ("POST", "/models/predict"),
        ("POST", "/v2/models//infer"),
        ("POST", "/v2/models/a/b/infer"),
        ("POST", "/v2/models/a/versions//infer"),
        ("GET", "/v2/models/a/infer"),
    ):
        assert found(method, path) is None, (method, path)


def test_request_id_and_metrics_on_the_endpoint(client: TestClient) -> None:
    answered = client.post("/predict", json={"text": ["id"]}, headers={"X-Request-ID": "abc-1"})
    assert answered.headers["x-request-id"] == "abc-1"
    made = client.post("/models/default/predict", json={"text": ["id"]})
    assert len(made.headers["x-request-id"]) == 16
    client.post("/models/nope/predict", json={"text": ["id"]})
    client.post("/v2/models/default/infer", json=V2_TEXTS)
    text = client.get("/metrics").text
    assert 'http_requests_total{handler="/predict",method="POST",status="200"}' in text
    named = 'handler="/models/{name}/predict",method="POST",status="%s"'
    assert "http_requests_total{" + named % 200 + "}" in text
    assert "http_requests_total{" + named % 404 + "}" in text
    assert 'handler="/v2/models/{name}/infer",method="POST",status="200"' in text
    assert 'handler="/metrics"' not in text
