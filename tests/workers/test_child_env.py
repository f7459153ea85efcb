"""Model workers and training jobs inherit an allow-list of variables: no key, password,
DSN or cloud credential, whatever its name; paths and the CPU libraries' tuning do pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlapi.training.runners import local
from mlapi.workers import early
from mlapi.workers.child_env import inherited

SECRETS = {
    "MLAPI_API_KEYS": "s3cr3t-k1",
    "MLAPI_ADMIN_KEYS": "s3cr3t-a1",
    "MLAPI_REDIS_URL": "redis://:s3cr3t-p1@127.0.0.1:6379/0",
    "MLAPI_REDIS_PASSWORD": "s3cr3t-p2",
    "MLAPI_REDIS_SIGNING_KEY": "s3cr3t-s1",
    "MLAPI_SENTRY_DSN": "https://s3cr3t-d1@sentry.invalid/1",
    "SENTRY_DSN": "https://s3cr3t-d2@sentry.invalid/2",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t-aws1",
    "AWS_SESSION_TOKEN": "s3cr3t-aws2",
    "GOOGLE_APPLICATION_CREDENTIALS": "/var/run/s3cr3t-gcp.json",
    "AZURE_CLIENT_SECRET": "s3cr3t-az1",
    "HF_TOKEN": "s3cr3t-hf1",
    "GITHUB_TOKEN": "s3cr3t-gh1",
    "DATABASE_URL": "postgres://u:s3cr3t-pw@db/x",
    "PYTHON_KEYRING_PASSWORD": "s3cr3t-py1",
    "LC_SMUGGLED_TOKEN": "s3cr3t-lc1",
}
TUNING = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "2048",
    "LC_ALL": "C.UTF-8",
    "LD_PRELOAD": "/usr/lib/libjemalloc.so.2",
    "MALLOC_CONF": "background_thread:true",
    "HF_HUB_OFFLINE": "1",
    "PYTHONHASHSEED": "0",
}


def test_only_allowed_names_pass() -> None:
    env = inherited({**SECRETS, **TUNING, "PATH": "/usr/bin", "SOMETHING_ELSE": "x"})
    assert env == {**TUNING, "PATH": "/usr/bin"}


@pytest.mark.parametrize(
    "child_env",
    [early.child_env, lambda: local.child_env("2")],
    ids=["model worker", "training job"],
)
def test_a_child_process_gets_no_secret(
    monkeypatch: pytest.MonkeyPatch, child_env: Callable[[], dict[str, str]]
) -> None:
    for name, value in {**SECRETS, **TUNING}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = child_env()
    assert not set(SECRETS) & set(env)
    assert not any(secret in value for value in env.values() for secret in SECRETS.values())
    assert env["PATH"] == "/usr/bin:/bin" and "PYTHONPATH" in env
    assert all(env[name] == value for name, value in TUNING.items())


def test_a_training_job_gets_its_own_threads_and_not_the_servers_pinning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "KMP_AFFINITY": "granularity=fine,compact",
        "OMP_PROC_BIND": "close",
        "OPENBLAS_NUM_THREADS": "8",
    }.items():
        monkeypatch.setenv(name, value)
    env = local.child_env("2")
    assert "KMP_AFFINITY" not in env and "OMP_PROC_BIND" not in env
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"
    assert early.child_env()["KMP_AFFINITY"] == "granularity=fine,compact"  # workers: as the server
