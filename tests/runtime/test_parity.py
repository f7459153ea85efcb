"""The runtimes agree with the transformers pipeline, however texts are batched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from transformers import pipeline

from mlapi.runtime import load_classifier
from mlapi.settings import Settings

pytestmark = pytest.mark.numerics

TEXTS = [
    "I hate you.",
    "I love you.",
    "",
    "the movie was not very good but the actor was great",
    "wood chuck " * 30,
    "Welcome to the thunderdome",
    "émoji 🎉 and \x00 nul",
    "a",
    "b c",
    "students are very good in this class",
    "food is tasty",
    "how much wood could a wood chuck",
]


def reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    classifier = pipeline("text-classification", model=str(model_dir), top_k=None, device=-1)
    out = classifier(texts, batch_size=1, truncation=True)
    labels = ["NEGATIVE", "POSITIVE"]
    return np.array(
        [[next(e["score"] for e in row if e["label"] == lab) for lab in labels] for row in out]
    )


@pytest.fixture(scope="module")
def expected(model_dir: Path) -> np.ndarray:
    return reference(model_dir, TEXTS)


def test_scores_are_not_trivial(expected: np.ndarray) -> None:
    assert np.ptp(expected[:, 0]) > 0.01, "the tiny model must tell texts apart"


def test_api_equals_pipeline_unbatched(client: TestClient, expected: np.ndarray) -> None:
    for text, want in zip(TEXTS, expected, strict=True):
        row = client.post("/predict", json={"text": [text]}).json()["predictions"][0]
        assert np.allclose([e["score"] for e in row], want, atol=1e-5)


def test_api_equals_pipeline_batched(client: TestClient, expected: np.ndarray) -> None:
    rows = client.post("/predict", json={"text": TEXTS}).json()["predictions"]
    got = np.array([[e["score"] for e in row] for row in rows])
    assert np.allclose(got, expected, atol=1e-5)


def test_batch_composition_does_not_change_results(settings: Settings, model_dir: Path) -> None:
    classifier = load_classifier(settings, model_dir)
    alone = np.vstack([classifier.predict([t]) for t in TEXTS])
    together = classifier.predict(TEXTS)
    reversed_ = classifier.predict(TEXTS[::-1])[::-1]
    assert np.allclose(alone, together, atol=1e-5)
    assert np.allclose(alone, reversed_, atol=1e-5)


def test_onnx_fp32_equals_torch(settings: Settings, model_dir: Path) -> None:
    torch_model = load_classifier(settings, model_dir)
    onnx_model = load_classifier(settings.model_copy(update={"variant": "onnx-fp32"}), model_dir)
    assert onnx_model.info.backend == "onnx-fp32"
    assert onnx_model.info.fingerprint != torch_model.info.fingerprint
    assert np.allclose(onnx_model.predict(TEXTS), torch_model.predict(TEXTS), atol=1e-4)


def test_long_texts_are_truncated(settings: Settings, model_dir: Path) -> None:
    classifier = load_classifier(settings, model_dir)
    long = "wood chuck " * 2000
    assert classifier.predict([long]).shape == (1, 2)
    limited = load_classifier(settings.model_copy(update={"max_length": 16}), model_dir)
    assert limited.info.max_length == 16
    same_prefix = ["wood chuck " * 40, "wood chuck " * 80]
    probs = limited.predict(same_prefix)
    assert np.allclose(probs[0], probs[1], atol=1e-6)
