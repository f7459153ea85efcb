"""Reads the trainer's `progress.json` (written atomically by `trainer/progress.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlapi.training.schemas import Progress

PROGRESS = "progress.json"


def read_progress(output: Path) -> dict[str, Any]:
    """The trainer's last report ({} before its first): state, step, loss, eval_accuracy, error."""
    try:
        data = json.loads((output / PROGRESS).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def progress_of(report: dict[str, Any], known: Progress) -> Progress:
    """`known`, updated with what the report holds."""
    fields = {k: report[k] for k in Progress.model_fields if report.get(k) is not None}
    return known.model_copy(update=fields) if fields else known
