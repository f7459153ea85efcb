"""`make scaleout` in seconds: three replicas behind HAProxy, one killed, one drained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.binaries import require_binary

pytestmark = pytest.mark.slow


def test_replicas_share_redis_and_a_killed_replica_fails_no_request(
    model_dir: Path, tmp_path: Path
) -> None:
    for binary in ("haproxy", "k6", "redis-server"):
        require_binary(binary)
    out = tmp_path / "scaleout.json"
    command = [
        sys.executable, "-m", "harness.scaleout", "--model-dir", str(model_dir),
        "--variant", "onnx-fp32", "--duration", "8", "--vus", "4", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["requests"] > 100
    assert report["failed"] == 0
    assert report["cross_replica_cache"] == ["Miss", "Hit", "Hit"]
    assert [(e["replica"], e["signal"]) for e in report["events"]] == [
        (0, "SIGKILL"),
        (1, "SIGTERM"),
    ]
    counters = report["balancer_counters"]
    assert counters["retries"] + counters["redispatches"] > 0  # the balancer did retry
    survivor = report["per_replica"][2]["last_stats"]
    assert survivor["requests"] > 0 and survivor["hits"]["redis"] > 0
