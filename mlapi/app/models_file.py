"""The models config (`MLAPI_MODELS`): which named models one process serves.

```yaml
default: sentiment          # served by /predict (default: the first model)
models:
  - name: sentiment
    path: /models/sentiment
    kind: text-classifier   # default
    settings:               # optional, per model: variant, threads, max_batch_size, ...
      variant: auto
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlapi.kinds import ModelSpec
from mlapi.settings import Settings
from mlapi.settings.per_model import check

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        ..., pattern=NAME, description="The name in URLs (`/models/{name}/predict`, `/v2/...`)."
    )
    path: Path = Field(..., description="The model folder; relative to the config file.")
    kind: str = Field(
        "text-classifier",
        description="`text-classifier`, `embedding`, `tabular`, or a kind of MLAPI_KIND_MODULES.",
    )
    version: str = Field("1", description="The version reported until a live swap replaces it.")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Per-model settings (the rows marked *per model* above), by field name.",
    )

    @field_validator("settings")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check(value)


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = Field(
        None, description="The model `/predict` and `/model` serve (default: the first)."
    )
    models: list[ModelEntry] = Field(..., min_length=1, description="The models to serve.")


class ConfigError(ValueError):
    """The models config is missing or invalid; the message says where."""


def load_specs(settings: Settings, model_dir: Path | None) -> tuple[list[ModelSpec], str]:
    """The configured models and the default's name; without a config, `default` only."""
    if settings.models is None:
        assert model_dir is not None
        return [ModelSpec("default", model_dir)], "default"
    try:
        raw = yaml.safe_load(settings.models.read_text())
        config = ModelsConfig.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"MLAPI_MODELS={settings.models}: {exc}") from exc
    names = [m.name for m in config.models]
    if len(set(names)) != len(names):
        raise ConfigError(f"MLAPI_MODELS={settings.models}: duplicate model names {names}")
    default = config.default or names[0]
    if default not in names:
        raise ConfigError(f"MLAPI_MODELS={settings.models}: default {default!r} not in {names}")
    base = settings.models.parent
    specs = [
        ModelSpec(
            m.name, m.path if m.path.is_absolute() else base / m.path, m.kind, m.version, m.settings
        )
        for m in config.models
    ]
    for spec in specs:
        try:
            spec.settings(settings)
        except ValidationError as exc:
            raise ConfigError(f"model {spec.name!r}: {exc}") from exc
    return specs, default
