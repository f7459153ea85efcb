"""Per-model settings: one check for the config file, the admin API and training jobs; the
service's own settings are not validated again, and worker processes get no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.settings.per_model import MODEL_SETTINGS, InvalidModelSettings, apply, check, for_worker


def test_check_types_and_bounds_in_one_line() -> None:
    assert check({"threads": "2", "variant": "onnx-fp32"}) == {"threads": 2, "variant": "onnx-fp32"}
    assert check(None) == {}
    for given, named in (
        ({"colour": "red"}, "not per-model settings: ['colour']"),
        ({"admin_keys": "k"}, "not per-model settings: ['admin_keys']"),
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"variant": "fp8"}, "variant"),
    ):
        with pytest.raises(InvalidModelSettings, match=r"^[^\n]+$") as raised:
            check(given)
        assert named in str(raised.value)


def test_apply_keeps_the_services_settings_and_checks_the_queue() -> None:
    base = Settings(admin_keys=SecretStr("admin-secret"), max_texts=8, max_queue=16)
    merged = apply(base, {"threads": 1, "max_batch_size": 4})
    assert (merged.threads, merged.max_batch_size) == (1, 4)
    assert merged.admin_keys is base.admin_keys and merged.max_queue == 16
    with pytest.raises(InvalidModelSettings, match="max_queue"):
        apply(base, {"max_queue": 4})


def test_worker_processes_get_no_secrets() -> None:
    base = Settings(
        admin_keys=SecretStr("admin-secret"),
        api_keys=SecretStr("api-secret"),
        redis_signing_key=SecretStr("s" * 32),
        sentry_dsn="https://key@sentry.example/1",
        threads=3,
    )
    worker = for_worker(apply(base, {"threads": 2}))
    assert (worker.admin_keys, worker.api_keys, worker.redis_signing_key) == (None, None, None)
    assert worker.sentry_dsn is None and worker.threads == 2
    assert "secret" not in repr(worker.model_dump())


def test_the_models_config_uses_the_same_check(tmp_path: Path) -> None:
    version = ModelVersion(name="m", path=tmp_path, settings={"threads": "2"})
    assert version.settings == {"threads": 2}
    with pytest.raises(ValidationError, match="max_batch_size"):
        ModelVersion(name="m", path=tmp_path, settings={"max_batch_size": -1})
    assert "workers" in MODEL_SETTINGS and "api_keys" not in MODEL_SETTINGS
