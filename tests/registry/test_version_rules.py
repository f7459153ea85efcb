"""One rule for model names (1-63 characters, never `..`) and one for versions, each matched
whole: the models config, the admin load, v2's repository load and the canary refuse the same
names and versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlapi.app.models_file import ConfigError, configured_versions
from mlapi.errors import InvalidRequest
from mlapi.serving.version import check_name, check_version
from mlapi.settings import Settings
from tests.registry.conftest import ADMIN

LONGEST = "a" * 63
TOO_LONG = "a" * 64
BAD_VERSIONS = ["7\n", "../x", "", "v" * 33]


def test_the_rules_match_the_whole_value() -> None:
    assert check_name(LONGEST) == LONGEST and check_version("7") == "7"
    for name in (TOO_LONG, "a\n", "a..b", ".a"):
        with pytest.raises(InvalidRequest, match="not allowed"):
            check_name(name)
    for version in BAD_VERSIONS:
        with pytest.raises(InvalidRequest, match="not allowed"):
            check_version(version)


@pytest.mark.parametrize(
    ("name", "version"), [(TOO_LONG, "1"), ("a..b", "1"), ("m", "7\n"), ("m", "1 beta")]
)
def test_the_models_config_refuses_them(
    tmp_path: Path, model_dir: Path, name: str, version: str
) -> None:
    config = tmp_path / "models.yaml"
    entry = f"  - name: {name}\n    path: {model_dir}\n    version: {json.dumps(version)}\n"
    config.write_text(f"models:\n{entry}")
    with pytest.raises(ConfigError, match="not allowed"):
        configured_versions(Settings(models=config), None)
    config.write_text(f"models:\n  - name: {LONGEST}\n    path: {model_dir}\n    version: '7'\n")
    [version_] = configured_versions(Settings(models=config), None)[0]
    assert (version_.name, version_.version) == (LONGEST, "7")


def test_the_admin_load_refuses_them(registry_client: TestClient, model_dir: Path) -> None:
    body = {"path": str(model_dir)}
    response = registry_client.post(f"/models/{TOO_LONG}/load", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "not allowed" in response.json()["error"]["message"]
    for version in BAD_VERSIONS:
        response = registry_client.post(
            "/models/sentiment/load", json={**body, "version": version}, headers=ADMIN
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["type"] == "invalid_request"
    models = registry_client.get("/models").json()["models"]
    assert [(m["name"], m["version"]) for m in models] == [("sentiment", "1"), ("other", "1")]
    loaded = registry_client.post(f"/models/{LONGEST}/load", json=body, headers=ADMIN)
    assert loaded.status_code == 200, loaded.text  # 63 characters: a name


def test_the_v2_repository_load_refuses_them(registry_client: TestClient, model_dir: Path) -> None:
    parameters = {"path": str(model_dir)}
    response = registry_client.post(
        f"/v2/repository/models/{TOO_LONG}/load", json={"parameters": parameters}, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert "not allowed" in response.json()["error"]
    for version in BAD_VERSIONS:
        response = registry_client.post(
            "/v2/repository/models/sentiment/load",
            json={"parameters": {**parameters, "version": version}},
            headers=ADMIN,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"].startswith("parameters.version")
    index = registry_client.post("/v2/repository/index", headers=ADMIN).json()
    assert [(e["name"], e["version"]) for e in index] == [("sentiment", "1"), ("other", "1")]


def test_the_canary_refuses_them(registry_client: TestClient, second_model_dir: Path) -> None:
    body = {"path": str(second_model_dir), "percent": 10}
    response = registry_client.post(f"/models/{TOO_LONG}/canary", json=body, headers=ADMIN)
    assert response.status_code == 404, response.text  # no model of that name to canary
    for version in BAD_VERSIONS:
        response = registry_client.post(
            "/models/sentiment/canary", json={**body, "version": version}, headers=ADMIN
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith("body.version")
    assert registry_client.get("/stats").json()["models"]["sentiment"]["canary"] is None


def test_the_canary_is_of_the_serving_kind(
    registry_client: TestClient, second_model_dir: Path
) -> None:
    """One servable keys and decodes a request for both versions: a canary of another kind
    is a 422, and nothing is built."""
    body = {"path": str(second_model_dir), "percent": 10, "kind": "tabular"}
    response = registry_client.post("/models/sentiment/canary", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "must be a text-classifier model" in response.json()["error"]["message"]
    assert registry_client.get("/stats").json()["models"]["sentiment"]["canary"] is None
    body["kind"] = "text-classifier"
    response = registry_client.post("/models/sentiment/canary", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
