"""Runs load.js (or a bench-local k6 script) and reads back the numbers the benchmark reports."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.k6 import run_load
from harness.servers import find_binary

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Profile:
    name: str
    env: dict[str, str]
    sentences_per_request: int | None  # texts per /predict when they are all distinct
    script: str | None = None  # a k6 script under bench/ instead of load.js


def _run_script(script: Path, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """As harness.k6.run_load, for a script of the benchmark's own."""
    command = [find_binary("k6"), "run", "--no-color", "--quiet"]
    for key, value in variables.items():
        command += ["-e", f"{key}={value}"]
    return subprocess.run(
        [*command, str(script)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
    )


def run(base_url: str, profile: Profile, summary: Path, timing: dict[str, str]) -> dict[str, Any]:
    variables = {
        "BASE_URL": base_url,
        "SUMMARY": str(summary),
        "P99_MS": "60000",
        **timing,
        **profile.env,
    }
    done = (
        run_load(variables)
        if profile.script is None
        else _run_script(HERE / profile.script, variables)
    )
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
        "predicts": predicts,
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
