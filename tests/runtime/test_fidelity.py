"""Every exported variant: a text's answer depends only on the text, and stays close to fp32.

Judged on a trained model (confident outputs); `make test-avx2` runs this module again as on
an AVX2-only CPU, where u8 x s8 products go through saturating 16-bit pair sums.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlapi.runtime import Classifier, load_classifier
from mlapi.runtime.calibration import MAX_P99_DIFF, MIN_AGREEMENT, fidelity
from mlapi.runtime.cpu import cpu_flags, has_fast_bf16
from mlapi.runtime.variants import VARIANTS
from mlapi.settings import Settings
from mlapi.tools.synthetic import sentiment_sentences

pytestmark = pytest.mark.numerics

# Held out: the model was trained on seed 0's sentences.
TEXTS = [text for text, _ in sentiment_sentences(200, seed=99)] + [
    "",
    "a",
    "not good , not bad",
    "the the the the the",
    "wood chuck " * 40,
]
SERVED = [name for name in VARIANTS if name != "torch-fp32"]


def load(trained_dir: Path, variant: str) -> Classifier:
    settings = Settings(
        model_dir=trained_dir, variant=variant, trial_dir=None, threads=1, max_batch_size=64
    )
    missing = VARIANTS[variant].missing(trained_dir)
    if missing is not None:
        reason = f"{variant}: {missing} (CPU flags seen: {', '.join(cpu_flags()) or 'none'})"
        # Only the CPU may rule a variant out; a runtime or an export missing in CI is a hole.
        by_cpu = VARIANTS[variant].precision == "bf16" and not has_fast_bf16()
        if os.environ.get("CI") == "true" and not by_cpu:
            pytest.fail(reason)
        pytest.skip(reason)
    return load_classifier(settings, trained_dir)


@pytest.fixture(scope="module")
def reference(trained_dir: Path) -> npt.NDArray[np.float32]:
    return load(trained_dir, "torch-fp32").predict(TEXTS)


def test_the_model_is_confident(reference: npt.NDArray[np.float32]) -> None:
    labels = np.array([label for _, label in sentiment_sentences(200, seed=99)])
    assert (reference[:200].argmax(axis=1) == labels).mean() >= 0.95
    assert np.median(reference.max(axis=1)) > 0.95


@pytest.mark.parametrize("variant", VARIANTS)
def test_answers_do_not_depend_on_the_batch(trained_dir: Path, variant: str) -> None:
    model = load(trained_dir, variant)
    bound = 1e-5 if VARIANTS[variant].exact else 0.01
    alone = np.vstack([model.predict([text]) for text in TEXTS[:48]])
    for batch in (TEXTS, TEXTS[::-1], TEXTS[:48] + ["wood chuck " * 100] * 16):
        order = [batch.index(text) for text in TEXTS[:48]]
        got = model.predict(batch)[order]
        assert np.abs(got - alone).max() <= bound, variant
        assert (got.argmax(axis=1) == alone.argmax(axis=1)).all(), variant


@pytest.mark.parametrize("variant", SERVED)
def test_variant_is_faithful_to_fp32(
    trained_dir: Path, variant: str, reference: npt.NDArray[np.float32]
) -> None:
    model = load(trained_dir, variant)
    found = fidelity(reference, model.predict(TEXTS), np.zeros((0, 2), np.float32))
    assert found.agreement >= MIN_AGREEMENT, found
    assert found.p99_diff <= MAX_P99_DIFF, found


def test_int8_quantizes_each_token_on_its_own(trained_dir: Path) -> None:
    import onnx

    graph = onnx.load(str(trained_dir / "onnx" / "model.int8.onnx")).graph
    ops = {node.op_type for node in graph.node}
    assert "MatMulInteger" in ops
    assert "DynamicQuantizeLinear" not in ops  # one scale per batch: the defect this replaces
    reduce = [n for n in graph.node if n.op_type == "ReduceMax"]
    assert reduce and all(list(n.attribute[0].ints) == [-1] for n in reduce)


def test_per_batch_scales_are_caught(trained_dir: Path, tmp_path: Path) -> None:
    """The check above fails for ONNX Runtime's per-tensor dynamic int8 (why it is not served)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = tmp_path / "per-tensor.onnx"
    quantize_dynamic(
        str(trained_dir / "onnx" / "model.onnx"), str(target), weight_type=QuantType.QInt8
    )
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    base = load(trained_dir, "onnx-fp32")

    def run(texts: list[str]) -> npt.NDArray[np.float32]:
        rows = [e.ids for e in base._tokenizer.encode_batch(texts)]
        ids, mask = base._pad(rows)
        logits = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(logits, dtype=np.float32)

    alone = np.vstack([run([text]) for text in TEXTS[:16]])
    together = run(TEXTS[:16] + ["wood chuck " * 100])[:16]
    assert np.abs(alone - together).max() > 1e-3
