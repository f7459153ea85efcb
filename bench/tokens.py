"""Real tokens per sentence, as the served model counts them, and the padding of a batch replay.

Tokens are what the served tokenizer gives at the served max_length, special tokens included
([CLS] and [SEP] go through every layer), padding excluded. The padding fraction is replayed:
the sentences cut, in the order they were sent, into batches of the served mean batch size,
each bucketed by the runtime's own `length_buckets` and padded to its longest row, as
`TextModel.predict` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from mlapi.runtime.base import length_buckets, max_length_from_config, read_config


def served_max_length(model_dir: Path, wanted: int | None) -> int:
    """What the runtime truncates to: MLAPI_MAX_LENGTH within the model's positions."""
    return max_length_from_config(read_config(model_dir), wanted)


def token_lengths(model_dir: Path, texts: Sequence[str], max_length: int) -> list[int]:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return [len(encoding.ids) for encoding in tokenizer.encode_batch(list(texts))]


@dataclass(frozen=True)
class Replay:
    """Forward passes of a replayed stream of sentences."""

    real_tokens: int
    padded_tokens: int
    forwards: int

    @property
    def padding_fraction(self) -> float:
        return 1 - self.real_tokens / self.padded_tokens if self.padded_tokens else 0.0

    @property
    def tokens_per_forward(self) -> float:
        """M of the GEMMs: padded tokens per forward pass, on average."""
        return self.padded_tokens / self.forwards if self.forwards else 0.0


def replay(lengths: Sequence[int], batch: int, max_batch_size: int) -> Replay:
    """Batches of `batch` sentences in arrival order, each bucketed as the runtime buckets."""
    padded = forwards = 0
    step = max(1, batch)
    for start in range(0, len(lengths), step):
        chunk = lengths[start : start + step]
        for bucket in length_buckets(chunk, max_batch_size):
            padded += len(bucket) * max(chunk[i] for i in bucket)
            forwards += 1
    return Replay(sum(lengths), padded, forwards)
