"""Optional API keys: off by default; when set, /predict and /model need one of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlapi.app.factory import create_app
from mlapi.settings import Settings

BODY = {"text": ["hello"]}


@pytest.fixture
def locked(settings: Settings) -> Iterator[TestClient]:
    keys = settings.model_copy(update={"api_keys": SecretStr("key-one, key-two")})
    with TestClient(create_app(keys)) as client:
        yield client


def test_open_by_default(client: TestClient) -> None:
    assert client.post("/predict", json=BODY).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "key-three"},
        {"Authorization": "Basic key-one"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_key_is_401(locked: TestClient, headers: dict[str, str]) -> None:
    response = locked.post("/predict", json=BODY, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert locked.get("/model", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-one"},
        {"authorization": "bearer key-two"},
        {"X-API-Key": "key-two"},
    ],
)
def test_valid_keys_pass(locked: TestClient, headers: dict[str, str]) -> None:
    assert locked.post("/predict", json=BODY, headers=headers).status_code == 200


def test_probes_and_metrics_stay_open(locked: TestClient) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert locked.get(path).status_code == 200
