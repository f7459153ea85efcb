"""The model interface: tokenize, bucket by length, forward, softmax. Backends only forward."""

from __future__ import annotations

import abc
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mlapi.runtime.truncation import Truncation

Probs = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# What transformers reads of a folder besides config.json and the weights: the tokenizer's files.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    backend: str
    fingerprint: str
    labels: tuple[str, ...]
    max_length: int
    # How the variant was chosen: CPU flags and the start-up trial (MLAPI_VARIANT=auto).
    selection: dict[str, Any] | None = None


def read_config(model_dir: Path) -> dict[str, object]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {model_dir} a model folder?")
    config: dict[str, object] = json.loads(path.read_text())
    return config


def labels_from_config(config: dict[str, object]) -> tuple[str, ...]:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        raise ValueError("config.json has no id2label")
    return tuple(str(id2label[key]) for key in sorted(id2label, key=int))


def max_length_from_config(config: dict[str, object], wanted: int | None) -> int:
    limit = config.get("max_position_embeddings", 512)
    model_max = int(limit) if isinstance(limit, int) else 512
    return min(wanted, model_max) if wanted else model_max


def fingerprint(files: Sequence[Path], *extra: str) -> str:
    """Content hash of what decides the outputs: the files and every setting that changes an
    answer (backend and precision, max_length, pooling): same inputs -> same cache keys."""
    digest = hashlib.sha256()
    for part in extra:
        digest.update(part.encode())
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def torch_files(folder: Path) -> list[Path]:
    """What a transformers load of `folder` reads, for the fingerprint: config.json, the
    tokenizer's files, and every weight file, single or sharded, safetensors or bin, with the
    shards' index."""
    named = [folder / name for name in ("config.json", *TOKENIZER_FILES)]
    weights = sorted(
        path
        for path in folder.iterdir()
        if path.suffix in (".safetensors", ".bin") or path.name.endswith(".index.json")
    )
    return [path for path in [*named, *weights] if path.is_file()]


def onnx_files(graph: Path) -> list[Path]:
    """An ONNX graph and every file ONNX Runtime may read as its external data: any file that
    is not a graph in the graph's folder (ONNX Runtime refuses data outside that folder)."""
    data = sorted(
        path for path in graph.parent.rglob("*") if path.is_file() and path.suffix != ".onnx"
    )
    return [graph, *data]


def softmax(logits: npt.NDArray[np.floating]) -> Probs:
    """Same arithmetic as the transformers text-classification pipeline."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs: Probs = (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)
    return probs


# A batch's padding is bounded: padded tokens <= PADDING_SLACK x real tokens + PADDING_FREE
# (the runtime's length buckets here, and the batcher's batches by tokens).
PADDING_SLACK = 1.25
PADDING_FREE = 8


def pads_within(padded: int, real: int) -> bool:
    """Whether `padded` tokens for `real` ones stay within the padding bound."""
    return padded <= PADDING_SLACK * real + PADDING_FREE


def length_buckets(lengths: Sequence[int], max_size: int) -> list[list[int]]:
    """Indices sorted by length and cut into buckets whose padding stays within the bound."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    buckets: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index in order:
        length = lengths[index]
        padded = length * (len(current) + 1)
        if current and (len(current) >= max_size or not pads_within(padded, total + length)):
            buckets.append(current)
            current, total = [], 0
        current.append(index)
        total += length
    if current:
        buckets.append(current)
    return buckets


# Tokenization runs in the single model thread; a tokenizer thread pool would only compete
# with the runtime's own threads (measured: +5% cold throughput without it).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class TextModel(abc.ABC):
    """Tokenizer, length buckets and padding, shared by every text kind; a kind adds its head.

    `predict` is synchronous: callers run it in a worker thread.
    """

    info: ModelInfo
    # The projections run on real tokens only (no padding): batches are then made by real
    # tokens, whatever their lengths (mlapi/runtime/packed.py).
    packed: bool = False

    def __init__(self, tokenizer: Tokenizer, max_length: int, max_batch_size: int) -> None:
        self.truncation = Truncation(tokenizer, max_length)
        self._tokenizer = tokenizer
        self._max_batch_size = max_batch_size
        padding = tokenizer.padding
        self._pad_id = int(padding["pad_id"]) if padding else (tokenizer.token_to_id("[PAD]") or 0)

    @property
    @abc.abstractmethod
    def width(self) -> int:
        """Values per text in `predict`'s answer."""

    def predict(self, texts: Sequence[str]) -> Probs:
        """One row of `width` values per text."""
        return self.predict_counted(texts)[0]

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer, truncating at the model's max_length and padding nothing."""
        return self._tokenizer

    def predict_counted(self, texts: Sequence[str]) -> tuple[Probs, list[int]]:
        """`predict`, and the tokens of each text (one tokenization for both)."""
        ids = self.truncation.ids(texts)
        return self.predict_ids(ids), [len(row) for row in ids]

    def predict_ids(self, ids: Sequence[Sequence[int]]) -> Probs:
        """`predict` on texts tokenized already (by `tokenizer`, elsewhere)."""
        if not ids:
            return np.zeros((0, self.width), dtype=np.float32)
        lengths = [len(row) for row in ids]
        out = np.empty((len(ids), self.width), dtype=np.float32)
        for bucket in length_buckets(lengths, self._max_batch_size):
            input_ids, mask = self._pad([ids[i] for i in bucket])
            out[bucket] = self._head(self._forward(input_ids, mask), mask)
        return out

    @abc.abstractmethod
    def _head(self, outputs: npt.NDArray[np.floating], mask: IntArray) -> Probs:
        """The kind's part: logits -> probabilities, token states -> a vector, ..."""

    def _pad(self, rows: Sequence[Sequence[int]]) -> tuple[IntArray, IntArray]:
        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return input_ids, mask

    def warmup(self, batches: int) -> None:
        sample = ["warm up the model " * 4] * min(8, self._max_batch_size)
        for _ in range(batches):
            self.predict(sample)
            self.predict(["short"])

    @abc.abstractmethod
    def _forward(self, input_ids: IntArray, attention_mask: IntArray) -> npt.NDArray[np.floating]:
        """The model's output for one padded batch."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release runtime resources."""


class Classifier(TextModel):
    """A sequence classifier: probabilities in id2label order."""

    @property
    def width(self) -> int:
        return len(self.info.labels)

    def _head(self, outputs: npt.NDArray[np.floating], mask: IntArray) -> Probs:
        return softmax(outputs)
