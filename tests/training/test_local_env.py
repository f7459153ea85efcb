"""The local trainer process inherits no secret: keys, passwords and DSNs stay in the server."""

from __future__ import annotations

import pytest

from mlapi.training.runners.local import child_env


def test_the_trainer_gets_an_allow_list_of_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "MLAPI_API_KEYS": "k1",
        "MLAPI_ADMIN_KEYS": "a1",
        "MLAPI_REDIS_PASSWORD": "p1",
        "MLAPI_REDIS_SIGNING_KEY": "s1",
        "MLAPI_SENTRY_DSN": "https://x@y/1",
        "SENTRY_DSN": "https://x@y/2",
        "AWS_SECRET_ACCESS_KEY": "z",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", "/usr/bin")
    env = child_env("2")
    assert not set(secrets) & set(env)
    assert not any(value in env.values() for value in secrets.values())
    assert env["PATH"] == "/usr/bin" and env["OMP_NUM_THREADS"] == "2"
