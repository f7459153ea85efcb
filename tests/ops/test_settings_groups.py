"""Settings come in three groups; `Settings` is exactly their union, each group usable alone."""

from __future__ import annotations

import pytest

from mlapi.settings import GROUPS, CacheSettings, Settings, TrainingSettings


def test_every_setting_is_in_exactly_one_group() -> None:
    seen: list[str] = [name for group in GROUPS for name in group.model_fields]
    assert sorted(seen) == sorted(Settings.model_fields)
    assert len(seen) == len(set(seen))
    assert all(n.startswith("train_") for n in TrainingSettings.model_fields)
    assert list(Settings.model_fields)[0] == "model_dir"  # serving first, as the docs list them


def test_a_group_reads_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAPI_TRAIN_THREADS", "3")
    monkeypatch.setenv("MLAPI_REDIS_URL", "redis://127.0.0.1:1/0")
    assert TrainingSettings().train_threads == 3
    assert CacheSettings().redis_url == "redis://127.0.0.1:1/0"
    with pytest.raises(ValueError, match="redis_url must start"):
        CacheSettings(redis_url="http://x")


def test_variant_names_are_spelled_once() -> None:
    from mlapi.runtime.variants import AUTO_CANDIDATES, VARIANTS
    from mlapi.settings.serving import VARIANT_NAMES

    assert tuple(VARIANTS) == VARIANT_NAMES
    assert set(AUTO_CANDIDATES) <= set(VARIANT_NAMES)


def test_every_group_validator_holds_in_settings() -> None:
    """A validator that shares its name with another group's is shadowed in `Settings`."""
    combined = Settings.__pydantic_decorators__
    for group in GROUPS:
        own = group.__pydantic_decorators__
        for name, validator in own.field_validators.items():
            assert combined.field_validators[name].info.fields == validator.info.fields, name
        for name, model_validator in own.model_validators.items():
            assert combined.model_validators[name].func == model_validator.func, name


@pytest.mark.parametrize(
    "name", ["trial_dir", "models", "model_repository", "train_db", "train_job_template"]
)
def test_an_empty_variable_reads_as_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"MLAPI_{name.upper()}", "")
    assert getattr(Settings(), name) is None
