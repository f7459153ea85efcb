"""Datasets: a local TSV/CSV with text and label columns, or SST-2 from `datasets` when online."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trainer.errors import TrainerError


@dataclass(frozen=True)
class Example:
    text: str
    label: int


def _label_id(raw: str, labels: Sequence[str], where: str) -> int:
    value = raw.strip()
    if value in labels:
        return labels.index(value)
    if value.lstrip("-").isdigit() and 0 <= int(value) < len(labels):
        return int(value)
    raise TrainerError(
        f"{where}: unknown label {value!r}; expected one of {list(labels)} "
        f"or an id in 0..{len(labels) - 1}"
    )


def read_table(
    path: Path, labels: Sequence[str], *, text_column: str = "sentence", label_column: str = "label"
) -> list[Example]:
    """Rows of a .tsv/.csv file (header required); labels by name or id."""
    if not path.is_file():
        raise TrainerError(f"{path}: no such file")
    delimiter = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(
            handle,
            delimiter=delimiter,
            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
        )
        columns = reader.fieldnames or []
        if not columns:
            raise TrainerError(
                f"{path}: empty file (a header row with "
                f"{text_column!r} and {label_column!r} is required)"
            )
        for column in (text_column, label_column):
            if column not in columns:
                raise TrainerError(f"{path}: missing column {column!r}; columns are {columns}")
        examples = [
            Example(
                row[text_column] or "", _label_id(row[label_column] or "", labels, f"{path}:{line}")
            )
            for line, row in enumerate(reader, start=2)
        ]
    if not examples:
        raise TrainerError(f"{path}: no data rows")
    return examples


def load_sst2_hub() -> list[Example]:
    """GLUE SST-2 train split through `datasets` (needs network access to the hub)."""
    try:
        from datasets import load_dataset
    except ImportError as exc:
        raise TrainerError(
            "`.venv/bin/pip install datasets` to train on the hub's SST-2, or pass a local "
            "--data file"
        ) from exc
    split = load_dataset("glue", "sst2", split="train")
    return [Example(row["sentence"], int(row["label"])) for row in split]


def split_eval(
    examples: Sequence[Example], eval_size: float | int, seed: int
) -> tuple[list[Example], list[Example]]:
    """A seeded shuffle cut into (train, eval). eval_size: a fraction (<1) or a count."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    count = int(round(len(shuffled) * eval_size)) if eval_size < 1 else int(eval_size)
    if not 0 < count < len(shuffled):
        raise TrainerError(
            f"eval split of {count} leaves nothing to train or to evaluate "
            f"({len(shuffled)} examples)"
        )
    return shuffled[count:], shuffled[:count]
