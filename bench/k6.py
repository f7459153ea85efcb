"""Runs load.js with k6 and reads back the numbers the benchmark reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.k6 import run_load


@dataclass(frozen=True)
class Profile:
    name: str
    env: dict[str, str]
    sentences_per_request: int | None  # texts per /predict when they are all distinct


def run(base_url: str, profile: Profile, summary: Path, timing: dict[str, str]) -> dict[str, Any]:
    variables = {
        "BASE_URL": base_url,
        "SUMMARY": str(summary),
        "P99_MS": "60000",
        **timing,
        **profile.env,
    }
    done = run_load(variables)
    data = json.loads(summary.read_text())
    metrics = data["metrics"]
    seconds = data["state"]["testRunDurationMs"] / 1000
    predicts = metrics["iterations"]["values"]["count"]
    duration = metrics["http_req_duration"]["values"]
    predict = metrics["http_req_duration{name:predict}"]["values"]
    return {
        "k6_exit": done.returncode,
        "seconds": round(seconds, 1),
        "requests": metrics["http_reqs"]["values"]["count"],
        "req_per_s": round(metrics["http_reqs"]["values"]["rate"], 1),
        "p50_ms": round(duration["med"], 2),
        "p99_ms": round(duration["p(99)"], 2),
        "predict_p99_ms": round(predict["p(99)"], 2),
        "failed_rate": metrics["http_req_failed"]["values"]["rate"],
        "sentences_per_s": (
            round(predicts * profile.sentences_per_request / seconds, 1)
            if profile.sentences_per_request
            else None
        ),
    }
