"""`python -m bench.attempts` measures each attempt's speed and fidelity and reports both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import attempts, int8
from mlapi.tools.export import export, export_embedding
from mlapi.tools.synthetic import (
    sentiment_sentences,
    tiny_sentence_transformer,
    trained_tiny_distilbert,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attempts") / "tiny"
    export(trained_tiny_distilbert(out, steps=60))
    return out


def table_of(attempted: dict[str, Any], **fields: Any) -> str:
    """attempts.markdown of a run with these attempts, on a stated machine."""
    machine = {"date": "d", "commit": "c", "nproc": 2, "cpu": "cpu", "cpu_flags": []}
    run = {
        "machine": machine | {"torch": "t", "onnxruntime": "o"},
        "command": "python -m bench.attempts",
        "real_sentences": 200,
        "batch": 64,
        "held_out": 200,
        "attempts": attempted,
    }
    return attempts.markdown(run | fields)


@pytest.mark.parametrize("name", ["torch-fp32-unpadded", "onnx-q8-block32"])
def test_an_attempt_reports_speed_and_fidelity(trained: Path, name: str) -> None:
    texts = [text for text, _ in sentiment_sentences(200, seed=3)]
    row = attempts.attempt(name, attempts.ATTEMPTS[name][1], trained, trained, texts, texts, 0.5)
    assert row["real_text"]["sentences_per_s"] > 0
    assert 0.99 <= row["agreement"] <= 1 and row["p99_diff"] <= row["max_diff"]
    if name == "torch-fp32-unpadded":  # the same arithmetic as the padded reference
        assert row["faithful"] and row["max_diff"] <= 1e-5 and row["real_text"]["packed"]
    failed = {"error": "RuntimeError: no"}
    table = table_of({name: row, "torch-bf16-compiled": failed}, fidelity_model=str(trained))
    assert f"| {name} | {attempts.WHAT[name]} |" in table
    assert "RuntimeError: no" in table


NEW = [
    "onnx-dynamic-per-channel",
    "onnx-qdq-static",
    "onnx-int8-smoothquant",
    "onnx-int8-sensitive",
    "openvino-nncf-int8",
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attempts") / "st"
    export_embedding(tiny_sentence_transformer(out), int8=False)
    return out


@pytest.mark.parametrize("name", NEW)
def test_an_int8_attempt_stays_close_to_fp32_on_both_models(
    trained: Path, embedder: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [text for text, _ in sentiment_sentences(200, seed=3)]
    calibration = tuple(text for text, _ in sentiment_sentences(64, seed=11))
    monkeypatch.setattr(int8, "calibration_texts", lambda *_: calibration)  # no SST-2 in tests
    load = attempts.ATTEMPTS[name][1]
    row = attempts.attempt(name, load, trained, trained, texts, texts, 0.3, embedder=embedder)
    print(name, {k: row[k] for k in ("agreement", "p99_diff", "batch_diff")}, row["embedding"])
    assert row["precision"] == "int8" and row["real_text"]["sentences_per_s"] > 0
    assert row["agreement"] >= 0.95 and row["p99_diff"] <= 0.1
    assert row["embedding"]["p1_cosine"] >= 0.99
    if name != "onnx-dynamic-per-channel":  # one activation range per batch: batch-dependent
        assert row["batch_diff"] <= 0.01 and row["embedding"]["batch_diff"] <= 0.01
    table = table_of(
        {name: row},
        fidelity_model=str(trained),
        embedder=str(embedder),
        int8_ceiling={"sentences_per_s": 1000.0, "gflops": {}, "m": 64},
    )
    assert "| of int8 roofline |" in table and "| embedder p1 cosine |" in table
    roofline = f"{row['real_text']['sentences_per_s'] / 1000:.2f}"
    assert f"| {roofline} | {row['agreement']} |" in table
    assert f"| {row['embedding']['p1_cosine']} | {row['embedding']['batch_diff']} |" in table


def test_smoothquant_migration_alone_keeps_the_fp32_answers(trained: Path) -> None:
    import onnx

    source = trained / "onnx" / "model.onnx"
    texts = [text for text, _ in sentiment_sentences(32, seed=5)]
    data = int8.feeds(source, texts)
    before = int8._session(onnx.load(str(source)))
    smoothed = int8.smooth(onnx.load(str(source)), data, alpha=0.5)
    added = [
        n for n in smoothed.graph.node if n.op_type == "Mul" and n.output[0].endswith("_smooth")
    ]
    assert len(added) == len({n.input[0] for n, _ in int8._projections(smoothed)})
    after = int8._session(smoothed)
    for feed in data:
        expected, found = before.run(["logits"], feed)[0], after.run(["logits"], feed)[0]
        assert np.abs(found - expected).max() <= 1e-4


def test_sensitive_mixed_keeps_the_kinds_it_needs_then_reuses_them(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [text for text, _ in sentiment_sentences(48, seed=5)]
    monkeypatch.setattr(int8, "TRIAL_MARGIN", 0.0)  # nothing int8 is within: every kind kept
    writer = int8.SensitiveMixed(texts)
    writer(trained / "onnx" / "model.onnx", tmp_path / "a.onnx")
    assert writer.kept is not None and set(writer.kept) == set(writer.errors) - {"none"}
    assert set(writer.kept) <= set(int8.KINDS) and writer.errors["none"] > 0
    monkeypatch.setattr(int8, "TRIAL_MARGIN", 1e9)  # all within: the decision stays as made
    writer(trained / "onnx" / "model.onnx", tmp_path / "b.onnx")
    assert writer.kept == tuple(sorted(writer.kept, key=writer.errors.__getitem__))


def test_a_fidelity_only_row_has_no_speed_cells() -> None:
    row = {"precision": "int8", "agreement": 1.0, "p99_diff": 0.01, "max_diff": 0.02}
    row |= {"batch_diff": 0.0, "faithful": True, "kept_fp32": {"classifier": ["qkv"]}}
    table = table_of(
        {"onnx-int8-sensitive": row},
        command="python -m bench.attempts --seconds 0",
        real_sentences=0,
        fidelity_model="m",
        held_out=10,
    )
    what = attempts.WHAT["onnx-int8-sensitive"]
    assert f"| onnx-int8-sensitive | {what} | — | — | — | — | 1.0 | 0.01 |" in table
    assert "| — | — | yes | fp32: classifier qkv |" in table
