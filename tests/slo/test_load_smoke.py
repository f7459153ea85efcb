"""load.js against a live mlapi: a few seconds with a few VUs, thresholds must pass."""

from __future__ import annotations

from pathlib import Path

from tests.slo.conftest import Stack, run_k6


def test_k6_smoke_passes_its_thresholds(stack: Stack) -> None:
    assert stack.k6.returncode == 0, stack.k6.stdout[-3000:] + stack.k6.stderr[-3000:]
    metrics = stack.summary["metrics"]
    assert metrics["http_req_failed"]["values"]["rate"] == 0
    assert metrics["http_reqs"]["values"]["count"] > 50
    thresholds = metrics["http_req_duration"]["thresholds"]
    assert all(result["ok"] for result in thresholds.values())
    assert "http_reqs" in stack.k6.stdout  # the text summary beside the JSON


def test_thresholds_fail_when_the_objective_is_missed(stack: Stack, tmp_path: Path) -> None:
    result = run_k6(
        stack.mlapi.url,
        tmp_path / "s.json",
        VUS="1",
        RAMP_UP="1s",
        HOLD="1s",
        RAMP_DOWN="1s",
        P99_MS="0.001",
    )
    assert result.returncode != 0  # k6 exits non-zero on a crossed threshold


def test_cold_profile_sends_unique_sentences(stack: Stack, tmp_path: Path) -> None:
    result = run_k6(
        stack.mlapi.url,
        tmp_path / "cold.json",
        VUS="2",
        RAMP_UP="1s",
        HOLD="2s",
        RAMP_DOWN="1s",
        COLD="1",
    )
    assert result.returncode == 0, result.stdout[-2000:]
