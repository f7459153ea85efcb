"""`make stress` end to end in seconds: wrk and k6 against the seed's design and mlapi."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.binaries import require_binary

pytestmark = pytest.mark.slow


def test_stress_smoke_reports_timeouts_errors_and_sli(model_dir: Path, tmp_path: Path) -> None:
    for binary in ("wrk", "k6"):
        require_binary(binary)
    out = tmp_path / "stress"
    command = [
        sys.executable, "-m", "harness.stress", "--threads", "2", "--connections", "16",
        "--duration", "2s", "--text-model", str(model_dir),
        "--configs", "seed-flask,mlapi-onnx,mlapi-mixed", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((out / "stress.json").read_text())
    assert [r["config"] for r in run["results"]] == ["seed-flask", "mlapi-onnx", "mlapi-mixed"]
    for result in run["results"]:
        assert result["requests"] > 0 and result["req_per_s"] > 0
        assert result["timeouts"] == 0 and 0.9 <= result["sli"] <= 1
    assert set(run["results"][0]["socket_errors"]) == {"connect", "read", "write"}
    report = (out / "slo-report.md").read_text()
    assert "error budget spent" in report and "acceptable" in report
    assert "Target: >= 10x" in report and "- mlapi-onnx: " in report
    assert (out / "stress.png").stat().st_size > 1000
