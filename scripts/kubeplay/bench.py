"""load.js with k6 against the played pod."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kubeplay.play import ROOT, Play, log


def bench(play: Play, key: str | None, seconds: int, out: Path) -> dict[str, Any]:
    """load.js at 10 VUs, 95% cache, against the played pod."""
    k6 = shutil.which("k6") or str(ROOT / ".venv" / "bin" / "k6")
    summary = out / "k6-summary.json"
    env = {
        **os.environ,
        "K6_NO_USAGE_REPORT": "true",
        "BASE_URL": f"http://127.0.0.1:{play.api_port}",
        "VUS": "10",
        "CACHE_RATE": "0.95",
        "RAMP_UP": "5s",
        "HOLD": f"{seconds}s",
        "RAMP_DOWN": "1s",
        "API_KEY": key or "",
        "SUMMARY": str(summary),
    }
    log(f"k6 run load.js: 10 VUs, 95% cache, {seconds} s hold")
    result = subprocess.run([k6, "run", "--quiet", str(ROOT / "load.js")], env=env, text=True)
    metrics = json.loads(summary.read_text())["metrics"]
    predict = metrics["http_req_duration{name:predict}"]["values"]
    figures = {
        "k6_exit": result.returncode,
        "predict_p99_ms": round(predict["p(99)"], 2),
        "predict_p50_ms": round(predict["p(50)"], 2),
        "all_p99_ms": round(metrics["http_req_duration"]["values"]["p(99)"], 2),
        "req_per_s": round(metrics["http_reqs"]["values"]["rate"], 1),
        "failed_rate": metrics["http_req_failed"]["values"]["rate"],
    }
    (out / "kube-play-bench.json").write_text(json.dumps(figures, indent=2))
    log(f"bench: {figures}")
    return figures
