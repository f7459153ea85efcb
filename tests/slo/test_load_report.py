"""`make load` end to end on a tiny model: k6 summary, plot and SLO report in reports/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.binaries import require_binary


def test_load_run_writes_summary_plot_and_slo_report(model_dir: Path, tmp_path: Path) -> None:
    for binary in ("k6", "redis-server", "prometheus"):
        require_binary(binary)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.load",
            "--model-dir",
            str(model_dir),
            "--variant",
            "onnx-int8",
            "--vus",
            "2",
            "--ramp-up",
            "1s",
            "--hold",
            "3s",
            "--ramp-down",
            "1s",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MLAPI_THREADS": "1", "K6_NO_USAGE_REPORT": "true"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "k6-summary.json").read_text())
    assert summary["metrics"]["predict_under_objective"]["values"]["rate"] > 0.99
    assert (tmp_path / "load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "slo-report.md").read_text()
    assert "Verdict: **met**" in report
    for measure in ("SLI, client side", "SLI, server side", "cache hit ratio, all tiers"):
        line = next(row for row in report.splitlines() if measure in row)
        assert "n/a" not in line and "%" in line, line
