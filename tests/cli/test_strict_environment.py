"""Every MLAPI_* variable is a setting: a misspelt or renamed one stops the start with one
line and a suggestion; a bad value is one line naming the variable; Kubernetes' service links
(MLAPI_SERVICE_HOST, MLAPI_PORT=tcp://...) are not settings and do not stop it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlapi.app.preflight import StartupError, check_environment, service_links
from tests.cli.conftest import Mlapi

# What Kubernetes sets in a pod for the Services `mlapi` and `mlapi-redis` (.k8s/base).
SERVICE_LINKS = {
    "MLAPI_SERVICE_HOST": "10.96.0.10",
    "MLAPI_SERVICE_PORT": "80",
    "MLAPI_SERVICE_PORT_HTTP": "80",
    "MLAPI_PORT": "tcp://10.96.0.10:80",
    "MLAPI_PORT_80_TCP": "tcp://10.96.0.10:80",
    "MLAPI_PORT_80_TCP_PROTO": "tcp",
    "MLAPI_PORT_80_TCP_PORT": "80",
    "MLAPI_PORT_80_TCP_ADDR": "10.96.0.10",
    "MLAPI_REDIS_SERVICE_HOST": "10.96.0.11",
    "MLAPI_REDIS_SERVICE_PORT": "6379",
    "MLAPI_REDIS_PORT": "tcp://10.96.0.11:6379",
    "MLAPI_REDIS_PORT_6379_TCP_ADDR": "10.96.0.11",
}


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("MLAPI_BACKEND", "MLAPI_BACKEND is not a setting; did you mean MLAPI_VARIANT?"),
        ("MLAPI_MODEL_DIRR", "MLAPI_MODEL_DIRR is not a setting; did you mean MLAPI_MODEL_DIR?"),
        ("MLAPI_WORKER", "MLAPI_WORKER is not a setting; did you mean MLAPI_WORKERS?"),
        ("MLAPI_XYZZY", "MLAPI_XYZZY is not a setting; docs/configuration.md lists the settings"),
    ],
)
def test_an_unknown_variable_stops_the_start(mlapi: Mlapi, name: str, line: str) -> None:
    done = mlapi("serve", env={name: "onnx"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"mlapi serve: error: {line}"]
    assert done.stdout == ""


def test_a_bad_value_is_one_line_naming_the_variable(mlapi: Mlapi) -> None:
    done = mlapi("serve", env={"MLAPI_MAX_BATCH_SIZE": "many"})
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("mlapi serve: error: MLAPI_MAX_BATCH_SIZE: ")


def test_service_links_are_not_settings() -> None:
    assert sorted(service_links({**SERVICE_LINKS, "MLAPI_THREADS": "2"})) == sorted(SERVICE_LINKS)
    check_environment({**SERVICE_LINKS, "MLAPI_THREADS": "2", "mlapi_variant": "auto"})
    with pytest.raises(StartupError, match="MLAPI_REDIS_PORT is not a setting"):
        check_environment({"MLAPI_REDIS_PORT": "6379"})  # not Kubernetes' tcp:// form


def test_a_pod_with_service_links_gets_past_the_settings(mlapi: Mlapi, tmp_path: Path) -> None:
    """MLAPI_PORT=tcp://... (Kubernetes) is dropped: the start goes on to the model folder,
    or to the port when 8000 is taken here; neither is a settings error (exit 2)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**SERVICE_LINKS, "MLAPI_HOST": "127.0.0.1", "MLAPI_MODEL_DIR": str(empty)}
    done = mlapi("serve", env=env)
    assert done.returncode == 1, done.stderr
    output = done.stdout + done.stderr
    assert "has no config.json" in output or "port 8000 is in use" in output, output
