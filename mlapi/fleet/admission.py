"""Where a load may read: the model roots (`MLAPI_MODEL_ROOTS`) and the training data roots,
and the check that a folder lies under one, for the admin API, v2's repository extension, the
fleet's desired state and training. Names and versions have their one rule in
`mlapi.serving.version`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlapi.errors import PathNotAllowed
from mlapi.settings import Settings

# Files a model folder may hold, links and subfolders included: bounded before a load walks it.
MAX_FOLDER_ENTRIES = 10_000


def is_top(path: Path) -> bool:
    """`path` is a file system's top (`/`): never a root, since everything lies under it."""
    return path.parent == path


def check_root(path: Path, what: str) -> Path:
    """`path` resolved, links included, when it can be a root (not `/`)."""
    resolved = path.resolve()
    if is_top(resolved):
        raise ValueError(f"{what} {path} resolves to {resolved}: a root cannot be the top folder")
    return resolved


def model_roots(settings: Settings, configured: Iterable[Path]) -> list[Path]:
    """MLAPI_MODEL_ROOTS, or else the folders holding the configured models (a model folder
    itself when its parent is `/`), the repository and the training folder. Never `/`."""
    if settings.model_roots:
        raw = [p.strip() for p in settings.model_roots.split(",") if p.strip()]
        return [check_root(Path(p), "MLAPI_MODEL_ROOTS:") for p in raw]
    roots = []
    for path in configured:
        folder = path.resolve()
        roots.append(folder if is_top(folder.parent) else folder.parent)
    if settings.model_repository is not None:
        roots.append(check_root(settings.model_repository, "MLAPI_MODEL_REPOSITORY"))
    roots.append(check_root(settings.train_dir, "MLAPI_TRAIN_DIR"))
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


def check_folder(folder: Path, roots: Sequence[Path]) -> Path:
    """`folder` resolved, when it and everything in it lie under `roots`: every file and
    subfolder, links resolved and followed (a link to a folder is walked as that folder), so
    that nothing a load reads from the folder (tokenizer, config, weights, external data)
    comes from elsewhere. `PathNotAllowed` names the first entry that leaves them."""
    top = check_path(folder, roots)
    seen, todo, count = {top}, [top], 0
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                count += 1
                if count > MAX_FOLDER_ENTRIES:
                    raise PathNotAllowed(f"{folder} holds over {MAX_FOLDER_ENTRIES} entries")
                target = check_path(Path(entry.path), roots)
                if target.is_dir() and target not in seen:
                    seen.add(target)
                    todo.append(target)
    return top


def load_roots(settings: Settings, folder: Path) -> list[Path]:
    """The roots a load of `folder` reads under: the registry's (MLAPI_MODEL_ROOTS, or those
    it derived, passed in the load's settings), and `folder` itself, admitted already (under
    a root, or configured by the operator), unless it is `/`."""
    resolved = folder.resolve()
    own = [] if is_top(resolved) else [resolved]
    return [*model_roots(settings, [folder]), *own]
