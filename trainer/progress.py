"""`progress.json` in the output folder: what a supervisor (mlapi's train API) reads.

Rewritten atomically (temporary file + rename), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROGRESS = "progress.json"


@dataclass
class Progress:
    state: str = "running"  # running | stopped | succeeded | failed
    step: int = 0
    total_steps: int | None = None
    loss: float | None = None
    eval_accuracy: float | None = None
    error: str | None = None
    updated_at: float = field(default_factory=time.time)


class ProgressWriter:
    """Writes at most every `every_s` seconds, and always on a final state."""

    def __init__(self, folder: Path, every_s: float = 1.0) -> None:
        self.path = folder / PROGRESS
        self.every_s = every_s
        self.progress = Progress()
        self._written = 0.0

    def update(self, *, force: bool = False, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.progress, key, value)
        now = time.monotonic()
        if not force and now - self._written < self.every_s:
            return
        self._written = now
        self.progress.updated_at = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{PROGRESS}.{os.getpid()}")
        tmp.write_text(json.dumps(asdict(self.progress)) + "\n")
        tmp.replace(self.path)
