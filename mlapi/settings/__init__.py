"""Service settings, read from `MLAPI_*` environment variables, in three groups: serving
(models, batching, limits, access, the server), cache (LRU, Redis, what replicas share) and
training. `Settings` is all three; per-model settings are `mlapi.settings.per_model`."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from mlapi.settings.cache import MIN_SIGNING_KEY, CacheSettings
from mlapi.settings.serving import (
    DEFAULT_MODEL_ID,
    ServingSettings,
    cgroup_cpu_limit,
    default_threads,
)
from mlapi.settings.training import TrainingSettings

__all__ = [
    "DEFAULT_MODEL_ID",
    "GROUPS",
    "MIN_SIGNING_KEY",
    "CacheSettings",
    "ServingSettings",
    "Settings",
    "TrainingSettings",
    "cgroup_cpu_limit",
    "default_threads",
]


class Settings(TrainingSettings, CacheSettings, ServingSettings):  # fields in group order
    """Every knob of the service. Environment variables use the `MLAPI_` prefix."""

    model_config = SettingsConfigDict(env_prefix="MLAPI_", protected_namespaces=())
    groups: ClassVar[tuple[type[BaseSettings], ...]] = (
        ServingSettings,
        CacheSettings,
        TrainingSettings,
    )


GROUPS = Settings.groups
