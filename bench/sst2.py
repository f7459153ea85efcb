"""Real sentences for the cold-sst2 profile and the model-only step on real text.

SST-2's training file minus the rows `bench.fidelity` scores: the trainer's held-out split
(same eval size and seed as `--fidelity-model` uses) is left out, and so is any sentence that
also appears in it, so a fidelity run and a speed run never share a sentence. The served model
in the benchmark has random weights, so the rows a trained model learnt from are as good as
any other here. Duplicates are dropped (a repeat would be a cache hit), the trainer's seeded
order is kept. Without the file (CI, `--smoke`) the synthetic sentiment sentences stand in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVAL_SIZE = 2000  # as bench.fidelity and the trainer's default run for SST-2
SEED = 42
SYNTHETIC = 100_000  # more than a smoke run sends: none is sent twice


@dataclass(frozen=True)
class Sentences:
    source: str
    texts: list[str]

    def write(self, path: Path) -> Path:
        """The JSON array bench/cold.js reads with k6's `open()`."""
        path.write_text(json.dumps(self.texts))
        return path

    def describe(self) -> dict[str, object]:
        return {"source": self.source, "count": len(self.texts)}


def _unique(texts: list[str], excluded: set[str]) -> list[str]:
    seen = set(excluded)
    out = []
    for text in texts:
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def sst2_sentences(data: Path, eval_size: int = EVAL_SIZE, seed: int = SEED) -> Sentences:
    from trainer.data import read_table, split_eval

    train, held = split_eval(read_table(data, ("NEGATIVE", "POSITIVE")), eval_size, seed)
    texts = _unique([e.text for e in train], {e.text for e in held})
    return Sentences(
        f"{data.name}: training split minus held-out (size {eval_size}, seed {seed})", texts
    )


def synthetic_sentences(count: int) -> Sentences:
    from mlapi.tools.synthetic import sentiment_sentences

    texts = _unique([text for text, _ in sentiment_sentences(count)], set())
    return Sentences("synthetic sentiment sentences (mlapi.tools.synthetic)", texts)


def real_sentences(data: Path, *, smoke: bool) -> Sentences:
    if smoke or not data.is_file():
        return synthetic_sentences(SYNTHETIC)
    return sst2_sentences(data)
