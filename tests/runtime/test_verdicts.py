"""The export judges every variant on all its calibration sentences; `auto` honours the verdict.

A model with a few large-magnitude channels (the activation outliers of BERT-class models)
makes per-token int8 unfaithful: its export verdict fails, and `auto` serves a faithful variant.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlapi.runtime import load_classifier
from mlapi.runtime.calibration import (
    CALIBRATION_FILE,
    MAX_P99_DIFF,
    TRIAL_MARGIN,
    Calibration,
    Fidelity,
    Verdict,
    upper_quantile,
)
from mlapi.settings import Settings
from mlapi.tools.export import export, spread
from mlapi.tools.synthetic import sentiment_sentences

HELD_OUT = [text for text, _ in sentiment_sentences(300, seed=99)]  # trained on seed 0's
OUTLIER = 1000.0  # how much larger the outlier channels are


def auto(model_dir: Path, trial_dir: Path | None = None, **extra: Any) -> Settings:
    return Settings(model_dir=model_dir, variant="auto", trial_dir=trial_dir, threads=1, **extra)


def with_outliers(trained_dir: Path, out: Path, channels: int = 2) -> Path:
    """The trained model, its function unchanged in fp32, with `channels` outlier channels in
    every attention block: the value projection's rows scaled up, the output projection's
    columns scaled down, so the output projection's inputs carry the outliers."""
    import torch
    from transformers import AutoModelForSequenceClassification

    shutil.copytree(trained_dir, out, ignore=shutil.ignore_patterns("onnx"))
    model = AutoModelForSequenceClassification.from_pretrained(out)
    with torch.no_grad():
        for layer in model.distilbert.transformer.layer:
            value, output = layer.attention.v_lin, layer.attention.out_lin
            value.weight[:channels] *= OUTLIER
            value.bias[:channels] *= OUTLIER
            output.weight[:, :channels] /= OUTLIER
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def outliers(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = with_outliers(trained_dir, tmp_path_factory.mktemp("outliers") / "model")
    export(out, sentences=HELD_OUT)
    return out


def test_the_export_judges_int8_unfaithful_and_auto_does_not_serve_it(outliers: Path) -> None:
    verdict = Calibration.load(outliers / "onnx").verdicts["onnx-int8"]  # type: ignore[union-attr]
    assert verdict.sentences == len(HELD_OUT)
    assert not verdict.faithful and verdict.fidelity.p99_diff > MAX_P99_DIFF
    model = load_classifier(auto(outliers), outliers)
    trials = {t["variant"]: t for t in model.info.selection["trials"]}  # type: ignore[index]
    assert "not faithful on the export's 300" in trials["onnx-int8"]["skipped"]
    assert not trials["onnx-int8"]["faithful"]
    assert model.info.backend != "onnx-int8"
    assert trials[model.info.backend]["faithful"]
    # The variant served answers the held-out texts within the bounds.
    stored = Calibration.load(outliers / "onnx")
    got = model.predict(HELD_OUT)
    assert np.quantile(np.abs(got - stored.probs).max(axis=1), 0.99) <= MAX_P99_DIFF  # type: ignore[union-attr]


def test_where_int8_is_faithful_it_can_be_chosen(trained_dir: Path) -> None:
    stored = Calibration.load(trained_dir / "onnx")  # no outliers, the same held-out texts
    assert stored is not None and stored.sentences == HELD_OUT
    assert stored.verdicts["onnx-int8"].faithful
    model = load_classifier(auto(trained_dir, auto_variants="onnx-int8"), trained_dir)
    trials = {t["variant"]: t for t in model.info.selection["trials"]}  # type: ignore[index]
    assert trials["onnx-int8"]["skipped"] is None
    assert trials["onnx-int8"]["faithful"] and trials["onnx-int8"]["verdict"]["faithful"]


def test_a_calibration_file_without_verdicts_still_loads(trained_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(trained_dir, old)
    path = old / "onnx" / CALIBRATION_FILE
    data = json.loads(path.read_text())
    del data["verdicts"]
    path.write_text(json.dumps(data))
    stored = Calibration.load(old / "onnx")
    assert stored is not None and stored.verdicts == {} and stored.sentences == HELD_OUT
    model = load_classifier(auto(old), old)
    trials = [t for t in model.info.selection["trials"] if not t["skipped"]]  # type: ignore[index]
    assert trials and all(t["verdict"] is None for t in trials)


def test_the_trial_tightens_the_p99_bound() -> None:
    near = Fidelity(agreement=1.0, p99_diff=0.9 * MAX_P99_DIFF, max_diff=0.02, batch_diff=0.0)
    assert near.faithful(exact=False)  # the export's verdict on the whole set
    assert not near.faithful(exact=False, margin=TRIAL_MARGIN)  # the trial's small sample


def test_the_verdict_bounds_the_p99_at_95_percent_confidence() -> None:
    ranks = np.arange(1000, dtype=np.float64)
    assert upper_quantile(ranks) == 995.0  # the 5th largest of 1000
    assert upper_quantile(ranks[:64]) == 63.0  # 64 values cannot bound a p99: their maximum
    # Coverage: on samples of 1000 from a long-tailed law, the bound lies at or above the
    # true p99 in at least 95% of draws (binomial: 0.95 +- 0.01 over 2000 draws).
    rng = np.random.default_rng(7)
    true_p99 = -np.log(0.01)  # of Exp(1)
    covered = np.mean([upper_quantile(rng.exponential(size=1000)) >= true_p99 for _ in range(2000)])
    assert covered >= 0.93
    # While the sample's own p99 (numpy's) falls below it about half the time.
    naive = np.mean([np.quantile(rng.exponential(size=1000), 0.99) >= true_p99 for _ in range(500)])
    assert naive < 0.8


def test_a_sample_p99_within_the_bound_is_not_enough() -> None:
    found = Fidelity(agreement=1.0, p99_diff=0.015, max_diff=0.026, batch_diff=0.0)
    assert not Verdict(found, 1000, p99_upper=1.1 * MAX_P99_DIFF).faithful
    assert Verdict(found, 1000, p99_upper=0.9 * MAX_P99_DIFF).faithful


def test_a_verdict_without_a_p99_bound_is_left_to_the_trial(
    trained_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(trained_dir, old)
    path = old / "onnx" / CALIBRATION_FILE
    data = json.loads(path.read_text())
    assert data["verdicts"]
    for verdict in data["verdicts"].values():
        del verdict["p99_upper"]
    path.write_text(json.dumps(data))
    stored = Calibration.load(old / "onnx")
    assert stored is not None and stored.verdicts == {}


def test_a_long_calibration_file_is_spread_evenly() -> None:
    lines = [f"sentence {i}" for i in range(5000)]
    kept = spread(lines, 1000)
    assert len(kept) == 1000 and kept[0] == lines[0] and kept[-1] == "sentence 4995"
    assert spread(lines[:10], 1000) == lines[:10]
