"""Bad input: always a 4xx with a typed error body, never a 5xx, and the service keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings

LIMITS = {"max_texts": 4, "max_text_chars": 50, "max_body_bytes": 2048}

# (name, raw body or JSON value, expected status, expected error type)
CASES: list[tuple[str, Any, int, str]] = [
    ("empty body", b"", 422, "invalid_json"),
    ("not json", b"hello", 422, "invalid_json"),
    ("truncated json", b'{"text": ["a"', 422, "invalid_json"),
    ("trailing garbage", b'{"text": ["a"]} x', 422, "invalid_json"),
    ("single quotes", b"{'text': ['a']}", 422, "invalid_json"),
    ("nan literal", b'{"text": NaN}', 422, "invalid_json"),
    ("latin-1 body", '{"text": ["caf\u00e9"]}'.encode("latin-1"), 422, "invalid_json"),
    ("lone continuation byte", b'{"text": ["\x80"]}', 422, "invalid_json"),
    ("utf-16 body", '{"text": ["a"]}'.encode("utf-16"), 422, "invalid_json"),
    ("lone surrogate escape", b'{"text": ["\\ud800"]}', 422, "invalid_json"),
    ("json null", b"null", 422, "invalid_request"),
    ("json list", ["a", "b"], 422, "invalid_request"),
    ("json string", "a", 422, "invalid_request"),
    ("json number", 3, 422, "invalid_request"),
    ("missing text", {"texts": ["a"]}, 422, "invalid_request"),
    ("empty object", {}, 422, "invalid_request"),
    ("text is a string", {"text": "a"}, 422, "invalid_request"),
    ("text is null", {"text": None}, 422, "invalid_request"),
    ("text is a number", {"text": 1}, 422, "invalid_request"),
    ("text is an object", {"text": {"a": 1}}, 422, "invalid_request"),
    ("element is a number", {"text": ["a", 1]}, 422, "invalid_request"),
    ("element is null", {"text": [None]}, 422, "invalid_request"),
    ("element is a list", {"text": [["a"]]}, 422, "invalid_request"),
    ("element is a bool", {"text": [True]}, 422, "invalid_request"),
    ("element is an object", {"text": [{"t": "a"}]}, 422, "invalid_request"),
    ("too many texts", {"text": ["a"] * 5}, 422, "too_many_texts"),
    ("far too many texts", {"text": [""] * 500}, 422, "too_many_texts"),
    ("text too long", {"text": ["x" * 51]}, 422, "text_too_long"),
    ("second text too long", {"text": ["ok", "y" * 60]}, 422, "text_too_long"),
    ("emoji text too long", {"text": ["\U0001f600" * 51]}, 422, "text_too_long"),
    ("body too large", {"text": ["a" * 3000]}, 413, "body_too_large"),
]

GOOD: list[tuple[str, list[str]]] = [
    ("empty string", [""]),
    ("nul bytes", ["a\x00b", "\x00"]),
    ("emoji", ["\U0001f600\U0001f389 great"]),
    ("one very long token", ["x" * 50]),
    ("control characters", ["\t\n\r\x1b[31m"]),
    ("rtl and combining", ["\u05e9\u05dc\u05d5\u05dd e\u0301"]),
    ("escaped unicode", ["\u2028\u2029\ufeff"]),
    ("whitespace only", ["   "]),
    ("max texts", ["a", "b", "c", "d"]),
]


@pytest.fixture(scope="module")
def strict_client(model_dir: Any) -> Iterator[TestClient]:
    settings = Settings(
        model_dir=model_dir, threads=1, warmup_batches=0, access_log=False, max_queue=64, **LIMITS
    )
    with TestClient(create_app(settings)) as client:
        yield client


def post(client: TestClient, body: Any) -> Any:
    if isinstance(body, bytes):
        return client.post("/predict", content=body)
    return client.post("/predict", json=body)


@pytest.mark.parametrize(("name", "body", "status", "type_"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_typed_4xx(
    strict_client: TestClient, name: str, body: Any, status: int, type_: str
) -> None:
    response = post(strict_client, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == type_
    assert error["message"]
    if type_ in {"too_many_texts", "text_too_long", "body_too_large"}:
        assert error["limit"] in LIMITS
        assert f"MLAPI_{error['limit'].upper()}" in error["message"]
    assert strict_client.get("/ready").status_code == 200


@pytest.mark.parametrize(("name", "texts"), GOOD, ids=[g[0] for g in GOOD])
def test_odd_but_valid_input_is_served(
    strict_client: TestClient, name: str, texts: list[str]
) -> None:
    response = strict_client.post("/predict", json={"text": texts})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == len(texts)


def test_declared_length_over_limit_is_refused_before_reading(strict_client: TestClient) -> None:
    response = strict_client.post("/predict", content=b"{}", headers={"content-length": "99999"})
    assert response.status_code == 413, response.text
    assert response.json()["error"]["type"] == "body_too_large"


@pytest.mark.parametrize(
    ("method", "path", "status", "type_"),
    [
        ("GET", "/predict", 405, "method_not_allowed"),
        ("POST", "/nowhere", 404, "not_found"),
        ("DELETE", "/health", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_are_typed(
    strict_client: TestClient, method: str, path: str, status: int, type_: str
) -> None:
    response = strict_client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["type"] == type_


def test_service_still_healthy_after_the_matrix(strict_client: TestClient) -> None:
    for _, body, _, _ in CASES:
        post(strict_client, body)
    assert strict_client.get("/health").json() == {"status": "healthy"}
    ok = strict_client.post("/predict", json={"text": ["still fine"]})
    assert ok.status_code == 200
