"""Replicas sharing a real redis-server and a signing key: each a TestClient with its own app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.settings import Settings

ADMIN = {"Authorization": "Bearer admin-key"}
KEY = "fleet-signing-key-0123456789"


def replica_settings(model_dir: Path, redis_url: str, roots: Path, **extra: Any) -> Settings:
    """A replica of the fleet: the model in the app's process, one thread, the admin key
    `admin-key`, the shared Redis signed with KEY, desired state polled every 0.2 s."""
    return Settings(
        model_dir=model_dir,
        variant="onnx-fp32",
        workers=0,
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
        admin_keys=SecretStr("admin-key"),
        redis_url=redis_url,
        redis_signing_key=SecretStr(KEY),
        model_roots=str(roots),
        desired_poll_s=0.2,
        **extra,
    )


def tick(client: TestClient) -> None:
    """One supervisor pass on the replica's own loop: it lists jobs and follows activations."""
    assert client.portal is not None
    client.portal.call(client.app.state.training.tick)  # type: ignore[attr-defined]


@pytest.fixture
def fleet_settings(
    model_dir: Path, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return replica_settings(model_dir, redis_server.url, tmp_path_factory.getbasetemp())


Replicas = Callable[..., TestClient]


@pytest.fixture
def replicas(fleet_settings: Settings) -> Iterator[Replicas]:
    """`replicas(**changes)` starts one more replica (torn down with the test)."""
    with ExitStack() as stack:

        def start(**changes: Any) -> TestClient:
            app = create_app(fleet_settings.model_copy(update=changes))
            return stack.enter_context(TestClient(app))

        yield start


def converge(client: TestClient) -> None:
    """One convergence pass on the replica's own event loop."""
    assert client.portal is not None
    client.portal.call(client.app.state.components.fleet.converge)  # type: ignore[attr-defined]


def serving(client: TestClient, name: str = "default") -> dict[str, Any]:
    models = client.get("/models").json()["models"]
    entry: dict[str, Any] = next(m for m in models if m["name"] == name)
    return entry
