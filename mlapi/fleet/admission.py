"""What a load may ask for, checked the same way for the admin API, v2's repository extension
and training activations: a model name, a version, and a folder under an allowed root."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlapi.errors import InvalidRequest, PathNotAllowed
from mlapi.settings import Settings

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
VERSION = r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}$"


class LoadParameters(BaseModel):
    """The body of a load: every field optional, nothing else accepted."""

    model_config = ConfigDict(extra="forbid", strict=True)

    path: str | None = Field(
        None, max_length=4096, description="Model folder; unset: the model's own path."
    )
    version: str | None = Field(
        None, pattern=VERSION, description="Unset: the serving version + 1."
    )
    kind: str | None = Field(
        None, max_length=64, description="Unset: the model's kind (text-classifier)."
    )
    settings: dict[str, Any] | None = Field(
        None, description="Per-model settings (variant, max_batch_size, tabular_runtime, ...)."
    )


def parse_parameters(raw: Any) -> LoadParameters:
    """v2 `parameters` (any JSON) as load parameters, or a typed 422 naming the field."""
    try:
        return LoadParameters.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "parameters"
        raise InvalidRequest(f"parameters.{where}: {first['msg']}") from None


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or ".." in name:
        raise InvalidRequest(
            f"model name {name[:80]!r} is not allowed: 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_version(version: str | None) -> str | None:
    if version is not None and not re.match(VERSION, version):
        raise InvalidRequest(f"version {version[:40]!r} is not allowed: 1-32 of [A-Za-z0-9.+_-]")
    return version


def model_roots(settings: Settings, configured: Iterable[Path]) -> list[Path]:
    """MLAPI_MODEL_ROOTS, or else the folders holding the configured models, the repository
    and the training folder."""
    if settings.model_roots:
        return [Path(p).resolve() for p in settings.model_roots.split(",") if p.strip()]
    roots = [p.resolve().parent for p in configured]
    if settings.model_repository is not None:
        roots.append(settings.model_repository.resolve())
    roots.append(settings.train_dir.resolve())
    return sorted(set(roots))


def data_roots(settings: Settings) -> list[Path]:
    """Where training datasets may be read: MLAPI_TRAIN_DATA_ROOTS, else MLAPI_TRAIN_DIR."""
    raw = settings.train_data_roots
    paths = raw.split(",") if raw else [str(settings.train_dir)]
    return [Path(p.strip()).resolve() for p in paths if p.strip()]


def check_path(path: Path, roots: Sequence[Path]) -> Path:
    """`path` with links resolved, when it lies under one of `roots`."""
    resolved = path.resolve()
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    allowed = ", ".join(map(str, roots))
    raise PathNotAllowed(f"{path} is outside the allowed roots: {allowed}")
