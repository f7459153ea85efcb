"""A small labelled dataset the tiny model can learn in a few steps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

POSITIVE = ["love", "great", "good", "wonderful", "fun", "like"]
NEGATIVE = ["hate", "awful", "terrible", "bad", "boring", "brutal"]
FILLER = ["the", "movie", "film", "story", "actor", "plot", "was", "is", "this", "a"]


def write_dataset(path: Path, rows: int = 160, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["sentence\tlabel"]
    for i in range(rows):
        label = i % 2
        word = rng.choice(POSITIVE if label else NEGATIVE)
        words = rng.sample(FILLER, 4) + [word]
        rng.shuffle(words)
        lines.append(f"{' '.join(words)}\t{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "train.tsv")
