"""Text classifiers: a sequence-classification folder; per text, one score per label."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlapi.errors import InvalidRequest
from mlapi.kinds.base import ModelKind, ModelSpec, Parsed, Servable, V2Tensor
from mlapi.parsing import check_texts, parse_texts
from mlapi.runtime import Classifier, load_classifier
from mlapi.settings import Settings

Loader = Callable[[Settings, Path], Classifier]


def valid_row(labels: Sequence[str], value: bytes) -> bool:
    """`value` is exactly what `encode_rows` makes of some probabilities for `labels`."""
    try:
        row = orjson.loads(value)
        scores = [entry["score"] for entry in row]
        if not (
            len(row) == len(labels)
            and all(type(s) is float and 0.0 <= s <= 1.0 for s in scores)
            and abs(sum(scores) - 1.0) <= 1e-4  # probabilities
            and [entry["label"] for entry in row] == list(labels)
        ):
            return False
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return False
    expected = [{"label": label, "score": s} for label, s in zip(labels, scores, strict=True)]
    return orjson.dumps(expected) == value


def encode_rows(labels: Sequence[str], probs: npt.NDArray[np.floating]) -> list[bytes]:
    """One JSON fragment per row: `[{"label": .., "score": ..}, ...]` in label-id order.

    Scores keep the model's own precision (float32 for text, float64 for scikit-learn)."""
    rows: list[list[float]] = np.asarray(probs).tolist()
    return [
        orjson.dumps(
            [{"label": label, "score": score} for label, score in zip(labels, row, strict=True)]
        )
        for row in rows
    ]


class ClassifierServable(Servable):
    runtime_attrs = ("classifier",)

    def __init__(self, classifier: Classifier, version: str) -> None:
        self.classifier = classifier
        self.version = version
        self.info = classifier.info
        self.fingerprint = classifier.info.fingerprint
        self.labels = classifier.info.labels
        selection = classifier.info.selection or {}
        self.reload_saves_memory = bool(selection.get("stored") and not selection.get("reused"))

    def run(self, keys: list[str]) -> list[bytes]:
        return encode_rows(self.labels, self.classifier.predict(keys))

    def valid(self, value: bytes) -> bool:
        return valid_row(self.labels, value)

    def card(self) -> dict[str, Any]:
        info = dataclasses.asdict(self.info)
        return {**info, "labels": list(self.labels), "version": self.version}

    def close(self) -> None:
        self.classifier.close()


class TextClassifierKind(ModelKind):
    name = "text-classifier"

    def __init__(self, loader: Loader = load_classifier) -> None:
        self.loader = loader

    def load(self, spec: ModelSpec, settings: Settings) -> ClassifierServable:
        if not (spec.path / "config.json").is_file():
            raise FileNotFoundError(f"{spec.path} has no config.json (not a model folder)")
        classifier = self.loader(settings, spec.path)
        classifier.warmup(settings.warmup_batches)
        return ClassifierServable(classifier, spec.version)

    def parse_predict(self, body: bytes, servable: Servable, settings: Settings) -> Parsed:
        return Parsed(parse_texts(body, settings))

    def predict_body(self, rows: list[bytes], parsed: Parsed) -> bytes:
        return b'{"predictions":[' + b",".join(rows) + b"]}"

    def v2_keys(self, inputs: list[V2Tensor], servable: Servable, settings: Settings) -> list[str]:
        texts = [t for t in inputs if t.datatype == "BYTES"]
        if len(texts) != 1:
            raise InvalidRequest("send exactly one BYTES input tensor holding the texts")
        tensor = texts[0]
        if len(tensor.data) != int(np.prod(tensor.shape)):
            raise InvalidRequest(
                f"input {tensor.name!r}: shape {tensor.shape} does not match "
                f"{len(tensor.data)} elements"
            )
        return check_texts(list(tensor.data), settings)

    def v2_outputs(self, rows: list[bytes], servable: Servable) -> list[V2Tensor]:
        assert isinstance(servable, ClassifierServable)
        scores = [[entry["score"] for entry in orjson.loads(row)] for row in rows]
        labels = servable.labels
        return [
            V2Tensor(
                "probabilities",
                "FP32",
                [len(rows), len(labels)],
                [x for row in scores for x in row],
            ),
            V2Tensor(
                "label",
                "BYTES",
                [len(rows)],
                [labels[int(np.argmax(row))] for row in scores],
            ),
        ]

    def v2_signature(self, servable: Servable) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        assert isinstance(servable, ClassifierServable)
        inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        outputs = [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(servable.labels)]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ]
        return inputs, outputs


KIND = TextClassifierKind()
