"""A load reads only folders under the model roots, for checked names, versions and settings;
v2 requests with odd parameters or shapes get typed 4xx, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.registry.conftest import ADMIN


@pytest.mark.parametrize("name", ["%2e%2e", "..", ".hidden", "a" * 64, "x%2fy", "sp ace"])
def test_bad_model_names_are_refused(registry_client: TestClient, name: str) -> None:
    response = registry_client.post(f"/models/{name}/load", json={}, headers=ADMIN)
    assert response.status_code in {404, 422}, response.text  # 404: not one path segment
    if response.status_code == 422:
        assert response.json()["error"]["type"] == "invalid_request"
    assert registry_client.get("/ready").status_code == 200


def test_a_dot_dot_name_does_not_read_the_repository_parent(
    registry_settings: Settings, tmp_path: Path
) -> None:
    repository = tmp_path / "repository"
    repository.mkdir()
    with TestClient(
        create_app(registry_settings.model_copy(update={"model_repository": repository}))
    ) as c:
        response = c.post("/models/%2e%2e/load", headers=ADMIN)
    assert response.status_code == 422
    assert "not allowed" in response.json()["error"]["message"]


def test_a_folder_outside_the_roots_is_refused(
    registry_settings: Settings, model_dir: Path, second_model_dir: Path
) -> None:
    only_first = registry_settings.model_copy(update={"model_roots": str(model_dir.parent)})
    with TestClient(create_app(only_first)) as client:
        for path in (second_model_dir, model_dir.parent / ".." / second_model_dir.parent.name):
            response = client.post(
                "/models/sentiment/load", json={"path": str(path)}, headers=ADMIN
            )
            assert response.status_code == 403, response.text
            assert response.json()["error"]["type"] == "path_not_allowed"
        link = model_dir.parent / "link-out"
        link.symlink_to(second_model_dir.parent, target_is_directory=True)
        try:
            response = client.post(
                "/models/sentiment/load", json={"path": str(link / "tiny-b")}, headers=ADMIN
            )
        finally:
            link.unlink()
        assert response.status_code == 403  # links are followed before the check
        assert client.get("/models").json()["models"][0]["version"] == "1"


@pytest.mark.parametrize(
    "parameters",
    [
        {"path": 5},
        {"settings": 5},
        {"version": 7},
        {"version": "../x"},
        {"kind": ["text-classifier"]},
        {"unknown": True},
        {"settings": {"workers": 10_000}},
        {"settings": {"threads": -1}},
        {"settings": {"api_keys": "x"}},
        "not an object",
        [1, 2],
    ],
)
def test_v2_repository_parameters_are_checked(registry_client: TestClient, parameters: Any) -> None:
    response = registry_client.post(
        "/v2/repository/models/sentiment/load",
        json={"parameters": parameters},
        headers=ADMIN,
    )
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error"}  # v2's error body
    again = registry_client.post("/v2/repository/models/sentiment/load", headers=ADMIN)
    assert again.status_code == 200, again.text  # a reload without a version still works


@pytest.mark.parametrize(
    ("shape", "data"),
    [
        ([2**62, 4], []),
        ([-1], ["a"]),
        ([1, -1], ["a"]),
        ([2, 2], ["a", "b"]),
        ([1] * 9, ["a"]),
    ],
)
def test_v2_shapes_must_hold_their_data(
    registry_client: TestClient, shape: list[int], data: list[str]
) -> None:
    body = {"inputs": [{"name": "text", "shape": shape, "datatype": "BYTES", "data": data}]}
    response = registry_client.post("/v2/models/sentiment/infer", json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error"}


def test_stats_need_the_api_key_when_keys_are_set(registry_settings: Settings) -> None:
    keyed = registry_settings.model_copy(update={"api_keys": SecretStr("user-key")})
    with TestClient(create_app(keyed)) as client:
        assert client.get("/stats").status_code == 401
        stats = client.get("/stats", headers={"X-API-Key": "user-key"})
        assert stats.status_code == 200 and "sentiment" in stats.json()["models"]
