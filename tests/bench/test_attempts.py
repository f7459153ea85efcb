"""`python -m bench.attempts` measures each attempt's speed and fidelity and reports both."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import attempts
from mlapi.tools.export import export
from mlapi.tools.synthetic import sentiment_sentences, trained_tiny_distilbert


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attempts") / "tiny"
    export(trained_tiny_distilbert(out, steps=60))
    return out


@pytest.mark.parametrize("name", ["torch-fp32-unpadded", "onnx-q8-block32"])
def test_an_attempt_reports_speed_and_fidelity(trained: Path, name: str) -> None:
    texts = [text for text, _ in sentiment_sentences(200, seed=3)]
    row = attempts.attempt(name, attempts.ATTEMPTS[name][1], trained, trained, texts, texts, 0.5)
    assert row["real_text"]["sentences_per_s"] > 0
    assert 0.99 <= row["agreement"] <= 1 and row["p99_diff"] <= row["max_diff"]
    if name == "torch-fp32-unpadded":  # the same arithmetic as the padded reference
        assert row["faithful"] and row["max_diff"] <= 1e-5 and row["real_text"]["packed"]
    table = attempts.markdown(
        {
            "machine": {"date": "d", "commit": "c", "nproc": 2, "cpu": "cpu", "cpu_flags": []}
            | {"torch": "t", "onnxruntime": "o"},
            "command": "python -m bench.attempts",
            "real_sentences": 200,
            "batch": 64,
            "fidelity_model": str(trained),
            "held_out": 200,
            "attempts": {name: row, "torch-bf16-compiled": {"error": "RuntimeError: no"}},
        }
    )
    assert f"| {name} | {attempts.WHAT[name]} |" in table
    assert "RuntimeError: no" in table
