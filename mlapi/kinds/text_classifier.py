"""Text classifiers: a sequence-classification folder; per text, one score per label."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlapi.fleet.admission import check_folder, load_roots
from mlapi.kinds.base import Capability, Decoded, ModelKind, Servable
from mlapi.runtime import Classifier, ClassifierLoader, load_classifier
from mlapi.serving.parsing import check_texts
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings


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


def decode_rows(values: list[bytes]) -> Decoded:
    """Probabilities, one row per stored value, as `encode_rows` wrote them."""
    scores = [[entry["score"] for entry in orjson.loads(value)] for value in values]
    return Decoded(np.asarray(scores, dtype=np.float64).reshape(len(values), -1))


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
        self.truncation = classifier.truncation  # also in the HTTP process's copy
        self.labels = classifier.info.labels
        self.width = len(self.labels)
        self.max_length = classifier.info.max_length
        self.packed = classifier.packed
        selection = classifier.info.selection or {}
        self.reload_saves_memory = bool(selection.get("stored") and not selection.get("reused"))

    def keys(self, items: list[Any], settings: Settings) -> list[str]:
        return check_texts(items, settings)

    def run(self, keys: list[str]) -> list[bytes]:
        return encode_rows(self.labels, self.classifier.predict(keys))

    def tokenize(self, keys: list[str]) -> list[list[int]]:
        return self.truncation.ids(keys)

    def run_tokens(self, keys: list[str], tokens: list[list[int]]) -> list[bytes]:
        return encode_rows(self.labels, self.classifier.predict_ids(tokens))

    def decode(self, values: list[bytes]) -> Decoded:
        return decode_rows(values)

    def valid(self, value: bytes) -> bool:
        return valid_row(self.labels, value)

    def card(self) -> dict[str, Any]:
        info = dataclasses.asdict(self.info)
        return {**info, "labels": list(self.labels), "version": self.version}

    def close(self) -> None:
        self.classifier.close()


class TextClassifierKind(ModelKind):
    name = "text-classifier"
    capability = Capability.CLASSIFY

    def __init__(self, loader: ClassifierLoader = load_classifier) -> None:
        self.loader = loader

    def load(self, spec: ModelVersion, settings: Settings) -> ClassifierServable:
        if not spec.path.is_dir():
            raise FileNotFoundError(f"{spec.path} does not exist")
        if not (spec.path / "config.json").is_file():
            raise FileNotFoundError(f"{spec.path} has no config.json (not a model folder)")
        check_folder(spec.path, load_roots(settings, spec.path))  # every file under the roots
        classifier = self.loader(settings, spec.path)
        classifier.warmup(settings.warmup_batches)
        return ClassifierServable(classifier, spec.version)


KIND = TextClassifierKind()
