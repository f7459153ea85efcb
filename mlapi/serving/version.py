"""One version of a named model, and the one rule for model names and for versions.

A `ModelVersion` is what a replica loads to serve a name: the models config lists them, the
fleet's desired state records them, a deployment serves one. A load names what it wants in a
`LoadRequest` (the admin load, v2's repository load, the canary, a training activation), every
field optional; the registry fills the rest (`Registry.resolve`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from mlapi.errors import InvalidRequest
from mlapi.settings import Settings
from mlapi.settings.per_model import apply, check

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}")
DEFAULT_KIND = "text-classifier"


def check_name(name: str) -> str:
    """`name` when it is a model name (it appears in URLs, metrics and folder names)."""
    if not NAME.fullmatch(name) or ".." in name:
        raise InvalidRequest(
            f"model name {name[:80]!r} is not allowed: 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_version(version: str) -> str:
    """`version` when it is a version (it appears in headers, metrics and v2 URLs)."""
    if not VERSION.fullmatch(version):
        raise InvalidRequest(f"version {version[:40]!r} is not allowed: 1-32 of [A-Za-z0-9.+_-]")
    return version


def _field(rule: Callable[[str], str]) -> AfterValidator:
    """`rule` as a pydantic check: its message is the field's error."""

    def validate(value: str) -> str:
        try:
            return rule(value)
        except InvalidRequest as exc:
            raise ValueError(exc.message) from None

    return AfterValidator(validate)


ModelName = Annotated[str, _field(check_name)]
VersionTag = Annotated[str, _field(check_version)]


class ModelVersion(BaseModel):
    """One version of a named model: its folder, kind, version and own settings. In the
    models config, `path` is relative to the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ModelName = Field(description="The name in URLs (`/models/{name}/predict`, `/v2/...`).")
    path: Path = Field(description="The model folder; relative to the config file.")
    kind: str = Field(
        DEFAULT_KIND,
        description="`text-classifier`, `embedding`, `tabular`, or a kind of MLAPI_KIND_MODULES.",
    )
    version: VersionTag = Field(
        "1", description="The version reported until a live swap replaces it."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Per-model settings (the rows marked *per model* above), by field name.",
    )

    @field_validator("settings")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check(value)

    def effective_settings(self, base: Settings) -> Settings:
        """The service's settings with this version's own (`mlapi.settings.per_model`)."""
        return apply(base, self.settings)


class LoadRequest(BaseModel):
    """What a load asks for, every field optional, nothing else accepted: the admin load,
    v2's repository `parameters` and the canary (with its share) read this one body."""

    model_config = ConfigDict(extra="forbid", strict=True)

    path: str | None = Field(
        None, max_length=4096, description="Model folder; unset: the model's own path."
    )
    version: VersionTag | None = Field(None, description="Unset: the serving version + 1.")
    kind: str | None = Field(
        None, max_length=64, description="Unset: the model's kind (text-classifier)."
    )
    settings: dict[str, Any] | None = Field(
        None, description="Per-model settings (variant, max_batch_size, tabular_runtime, ...)."
    )


def next_version(version: str) -> str:
    """The version a new load of a model serving `version` gets by default."""
    return str(int(version) + 1) if version.isdigit() else f"{version}+1"
