"""The bench's targets on real text: served over alone, over the reference, and the ceiling."""

from __future__ import annotations

from typing import Any

from bench import report


def profile(sentences: float, **extra: float) -> dict[str, Any]:
    return {"sentences_per_s": sentences, "req_per_s": 100.0, "p99_ms": 5.0, **extra}


def test_real_text_targets_and_whether_any_faithful_ceiling_reaches_the_ratio() -> None:
    auto = {
        "config": "auto",
        "variant": "torch-bf16",
        "selection": {"trials": [], "reused": True},
        "ready_seconds": 13.0,
        "ready_stored_seconds": 4.7,
        "rss_after_warmup_mb": 600,
        "seed-95": profile(0),
        "seed-50": profile(0),
        "cold": profile(180.0, predict_p99_ms=650.0),
        "cold-sst2": profile(240.0, predict_p99_ms=540.0),
    }
    reference = {"config": "reference", "cold": profile(30.0), "cold-sst2": profile(30.0)}
    variants = {"torch-bf16": {"sentences_per_s": 200.0, "real_text": {"sentences_per_s": 300}}}
    roofline = {
        "variants": {
            "torch-bf16": {"ceiling_sentences_per_s": 330.0},
            "onnx-int8": {"ceiling_sentences_per_s": 700.0},  # faster, but not faithful
        }
    }
    fidelity = {"torch-bf16": {"faithful": True}, "onnx-int8": {"faithful": False}}
    rows = {r["target"]: r for r in report.targets([auto, reference], variants, roofline, fidelity)}
    stored = rows["start to /ready 200 with the stored trial, s"]
    assert stored["value"] == 4.7 and stored["met"]
    served = rows["cold-sst2: served / model-only on real text (torch-bf16)"]
    assert served["value"] == 0.8 and not served["met"]
    assert rows["cold-sst2: sentences/s over the reference design"]["value"] == 8.0
    ceiling = rows[
        "cold-sst2: GEMM ceiling of the fastest faithful variant (torch-bf16) over the "
        "reference design"
    ]
    assert ceiling["value"] == 11.0 and not ceiling["met"]  # 12x is out of reach of the GEMMs
