"""What the cold profiles sent, rebuilt from their request counts, and the served batch size."""

from __future__ import annotations

from pathlib import Path

from bench.sentences import SEED, load_js_cold
from bench.served import ColdText, mean_batch_between
from bench.sst2 import synthetic_sentences
from mlapi.tools.synthetic import tiny_distilbert


def test_load_js_cold_tags_as_load_js_does() -> None:
    texts = load_js_cold(3, vus=2)
    assert len(texts) == 30 and len(set(texts)) == 30
    assert texts[0] == f"{SEED[0]} (1-0.0)"  # VU 1, its first iteration
    assert texts[10] == f"{SEED[0]} (2-0.0)"
    assert texts[29] == f"{SEED[9]} (1-1.9)"


def test_mean_batch_size_of_one_profile_from_two_stats() -> None:
    before = {"batches": 10, "mean_batch_size": 2.0}
    after = {"batches": 30, "mean_batch_size": 6.0}  # 160 more texts in 20 more batches
    assert mean_batch_between(before, after) == 8.0
    assert mean_batch_between(after, after) is None


def test_cold_figures_replay_unless_the_service_reports_padding(tmp_path: Path) -> None:
    model = tiny_distilbert(tmp_path / "tiny")
    real = synthetic_sentences(100).texts
    cold = ColdText(model, 128, 64, real, vus=2)
    assert cold.sent("cold-sst2", 2) == real[:20]
    assert cold.sent("seed-95", 2) is None
    result = {"predicts": 4, "seconds": 2.0}
    before = {"batches": 0, "mean_batch_size": 0}
    after = {"batches": 2, "mean_batch_size": 20.0}
    found = cold.figures("cold-sst2", result, before, after)
    assert found["padding_source"] == "replayed" and 0 <= found["padding_fraction"] < 1
    assert found["tokens_per_s"] > 40 / 2.0  # more than one token per sentence
    assert found["wrapped"] is False and found["mean_batch_size"] == 20.0
    # the service's own counts over this profile, or its figure since start
    counted = cold.figures(
        "cold",
        result,
        {**before, "tokens": 100, "padded_tokens": 100},
        {**after, "tokens": 400, "padded_tokens": 500, "padding_fraction": 0.2},
    )
    assert (counted["padding_source"], counted["padding_fraction"]) == ("served", 0.25)
    assert "wrapped" not in counted
    served = cold.figures("cold", result, before, {**after, "padding_fraction": 0.2})
    assert (served["padding_source"], served["padding_fraction"]) == ("served since start", 0.2)
    assert cold.figures("cold-sst2", {"predicts": 11, "seconds": 1.0}, None, None)["wrapped"]
