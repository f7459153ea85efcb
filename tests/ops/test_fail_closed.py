"""A bad or missing setting stops the start with one line naming it; prod can hide the schema."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings


def start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLAPI_")}
    return subprocess.run(
        [sys.executable, "-m", "mlapi"],
        env={**clean, "MLAPI_PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MLAPI_REQUIRE_API_KEYS": "true"}, "MLAPI_API_KEYS"),
        ({"MLAPI_REQUIRE_API_KEYS": "true", "MLAPI_API_KEYS": " , "}, "MLAPI_API_KEYS"),
        ({"MLAPI_MAX_BATCH_SIZE": "lots"}, "MLAPI_MAX_BATCH_SIZE"),
    ],
)
def test_a_bad_setting_stops_the_start_and_names_it(env: dict[str, str], named: str) -> None:
    result = start(**env)
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    naming = [line for line in lines if named in line]
    assert len(naming) == 1, lines
    assert "lots" not in naming[0]  # names the setting, never echoes a value


def test_required_keys_are_accepted_when_present() -> None:
    settings = Settings(require_api_keys=True, api_keys="k1,k2")
    assert settings.require_api_keys


@pytest.mark.parametrize("docs", [True, False])
def test_docs_and_schema_follow_the_setting(settings: Settings, docs: bool) -> None:
    with TestClient(create_app(settings.model_copy(update={"docs": docs}))) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == (200 if docs else 404), path
        assert client.get("/ready").status_code == 200
