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

Each entry is a `ModelVersion` (`mlapi.serving.version`): the same names, versions and settings
are allowed here as in an admin load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.settings.per_model import InvalidModelSettings


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = Field(
        None, description="The model `/predict` and `/model` serve (default: the first)."
    )
    models: list[ModelVersion] = Field(..., min_length=1, description="The models to serve.")


class ConfigError(ValueError):
    """The models config is missing or invalid; the message, one line, says where."""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error in one line: the line and column, and what is wrong there."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return " ".join(str(exc).split())


def _entry_problem(exc: ValidationError, raw: Any) -> str:
    """The first of pydantic's errors in one line: the entry (by its name when it has
    one), the field, and what is wrong with it; how many more there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = list(first["loc"])
    where = "the file"
    if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
        index = loc[1]
        entries = raw.get("models") if isinstance(raw, dict) else None
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"models[{index}]" + (f" ({name!r})" if isinstance(name, str) else "")
        loc = loc[2:]
    field = ".".join(str(part) for part in loc)
    message = " ".join(str(first["msg"]).split())
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}, field {field!r}: {message}{more}" if field else f"{where}: {message}{more}"


def configured_versions(
    settings: Settings, model_dir: Path | None
) -> tuple[list[ModelVersion], str]:
    """The configured models and the default's name; without a config, `default` only."""
    if settings.models is None:
        assert model_dir is not None
        return [ModelVersion(name="default", path=model_dir)], "default"
    where = f"MLAPI_MODELS={settings.models}"
    try:
        raw = yaml.safe_load(settings.models.read_text())
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML, {_yaml_problem(exc)}") from None
    try:
        config = ModelsConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_entry_problem(exc, raw)}") from None
    names = [m.name for m in config.models]
    if len(set(names)) != len(names):
        raise ConfigError(f"MLAPI_MODELS={settings.models}: duplicate model names {names}")
    default = config.default or names[0]
    if default not in names:
        raise ConfigError(f"MLAPI_MODELS={settings.models}: default {default!r} not in {names}")
    base = settings.models.parent
    versions = [
        m if m.path.is_absolute() else m.model_copy(update={"path": base / m.path})
        for m in config.models
    ]
    for version in versions:
        try:
            version.effective_settings(settings)
        except InvalidModelSettings as exc:
            raise ConfigError(f"model {version.name!r}: {exc}") from exc
    return versions, default
