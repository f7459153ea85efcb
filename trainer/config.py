"""Options of one training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    base_model: str
    output: Path
    data: Path | None = None
    labels: tuple[str, ...] = ("NEGATIVE", "POSITIVE")
    text_column: str = "sentence"
    label_column: str = "label"
    max_length: int = 64
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    seed: int = 42
    eval_size: float = 0.05
    max_train_examples: int | None = None
    save_every: int = 200
    stop_after: int | None = None
    threads: int | None = None
    export_onnx: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        data["data"] = str(self.data) if self.data else "glue/sst2 (hub)"
        data["labels"] = list(self.labels)
        return data
