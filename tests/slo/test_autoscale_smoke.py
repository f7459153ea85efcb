"""`make autoscale` in its short mode: the HPA algorithm scales real replicas out and back in
under a k6 ramp, windows scaled by 0.1, and no request fails (the drains included)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.binaries import require_binary

pytestmark = pytest.mark.slow


def test_replicas_follow_the_ramp_and_no_request_fails(model_dir: Path, tmp_path: Path) -> None:
    for binary in ("haproxy", "k6", "prometheus"):
        require_binary(binary)
    command = [
        sys.executable, "-m", "harness.autoscale", "--short", "--model-dir", str(model_dir),
        "--variant", "onnx-fp32", "--out", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "autoscale.json").read_text())
    assert report["failed"] == 0 and report["requests"] > 300
    assert report["hpa"]["target_per_pod"] == 2.4  # the bundle's target, read from the component
    assert report["max_replicas_seen"] >= 2  # 12 VUs: more than one pod's target in flight
    scale_ups = [e for e in report["scale_ups"] if e["decision_to_ready_s"] is not None]
    assert scale_ups and all(e["step"] in (1, 2) for e in scale_ups)  # while the load was high
    drains = [e for e in report["events"] if e["action"] == "drain"]
    assert drains and all("stopped_at_s" in e for e in drains)
    assert report["timeline"][-1]["replicas"] == 1  # back to minReplicas after the window
    assert all(step["p99_ms"] is not None for step in report["steps"])
    assert (tmp_path / "autoscale.png").stat().st_size > 10_000
