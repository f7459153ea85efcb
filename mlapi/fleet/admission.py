"""Where a load may read: the model roots (`MLAPI_MODEL_ROOTS`) and the training data roots,
and the check that a folder lies under one, for the admin API, v2's repository extension, the
fleet's desired state and training. Names and versions have their one rule in
`mlapi.serving.version`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from mlapi.errors import PathNotAllowed
from mlapi.settings import Settings


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
