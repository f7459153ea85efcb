"""Per-model settings: the fields a model may set for itself, checked in one place.

The models config file, the admin API (load, canary, the v2 repository) and training jobs all
go through `check`; `apply` lays a model's checked overrides over the service's settings
without validating the service's settings again. `for_worker` is what a model's worker
process gets: no keys, passwords or DSNs (it computes and needs none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from mlapi.settings import Settings
from mlapi.validation import first_problem

PER_MODEL = (
    "variant",
    "threads",
    "max_length",
    "max_batch_size",
    "max_batch_tokens",
    "max_wait_ms",
    "max_queue",
    "warmup_batches",
    "cache_size",
    "onnx_spin",
    "max_texts",
    "max_embedding_texts",
    "max_text_chars",
    "tabular_runtime",
    "cache_results",
    "workers",
)
MODEL_SETTINGS = frozenset(PER_MODEL)
ModelSettings = create_model(  # the same types, bounds and descriptions as Settings
    "ModelSettings",
    __config__=ConfigDict(extra="forbid"),
    **{  # type: ignore[call-overload]  # field definitions built from Settings' own
        name: (Settings.model_fields[name].annotation, Settings.model_fields[name])
        for name in PER_MODEL
    },
)
SECRETS = {
    "api_keys",
    "admin_keys",
    "redis_password",
    "redis_signing_key",
    "redis_signing_keys",
    "sentry_dsn",
}


class InvalidModelSettings(ValueError):
    """Per-model settings that are unknown or out of bounds; the message names the setting."""


def check(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The overrides, typed and checked, or `InvalidModelSettings` in one line."""
    given = dict(overrides or {})
    unknown = set(given) - MODEL_SETTINGS
    if unknown:
        raise InvalidModelSettings(f"not per-model settings: {sorted(unknown)}")
    try:
        checked = ModelSettings.model_validate(given)
    except ValidationError as exc:
        raise InvalidModelSettings(first_problem(exc.errors())) from None
    values: dict[str, Any] = checked.model_dump(include=set(given))
    return values


def apply(base: Settings, overrides: Mapping[str, Any] | None) -> Settings:
    """The settings of one model: the service's, with its own overrides."""
    merged = base.model_copy(update=check(overrides))
    if merged.max_queue < merged.max_texts:
        raise InvalidModelSettings("max_queue must be >= max_texts, or a full request never fits")
    return merged


def per_worker(settings: Settings) -> Settings:
    """`settings` as each of its `workers` processes runs them: its share of the threads."""
    return settings.model_copy(update={"threads": max(1, settings.threads // settings.workers)})


def for_worker(settings: Settings) -> Settings:
    """`settings` without the secrets a worker process has no use for."""
    return settings.model_copy(update=dict.fromkeys(SECRETS))
