"""Where the model comes from: MLAPI_MODEL_DIR, or a one-time download into models/."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from mlapi.errors import ModelUnavailable
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.model_dir")


def resolve_model_dir(settings: Settings) -> Path:
    """The folder to load. Downloads `model_id` once when MLAPI_MODEL_DIR is unset."""
    if settings.model_dir is not None:
        if not settings.model_dir.is_dir():
            raise ModelUnavailable(f"MLAPI_MODEL_DIR={settings.model_dir} does not exist")
        if not (settings.model_dir / "config.json").is_file():
            raise ModelUnavailable(
                f"MLAPI_MODEL_DIR={settings.model_dir} has no config.json; point it at a folder "
                "saved with save_pretrained (config.json, tokenizer.json, weights)"
            )
        return settings.model_dir
    target = settings.resolved_model_dir()
    if (target / "config.json").is_file():
        return target
    # A line before and after: progress bars are drawn only on a terminal (mlapi.cli).
    logger.info("downloading %s into %s", settings.model_id, target)
    started = time.monotonic()
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(
            settings.model_id,
            local_dir=target,
            allow_patterns=["*.json", "*.txt", "*.safetensors"],
        )
    except Exception as exc:  # offline, unknown id, no permission: one clear message
        raise ModelUnavailable(
            f"could not download {settings.model_id!r} into {target} ({type(exc).__name__}). "
            "Offline? Set MLAPI_MODEL_DIR to a local model folder (config.json, tokenizer.json "
            "and weights, as written by save_pretrained), e.g. "
            "MLAPI_MODEL_DIR=/path/to/model make run"
        ) from exc
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    logger.info(
        "downloaded %s into %s (%.1f MB in %.1f s)",
        settings.model_id,
        target,
        size / 1e6,
        time.monotonic() - started,
    )
    return target
