"""SLO recording rules and burn-rate alerts: promtool checks and unit tests."""

from __future__ import annotations

import subprocess

from tests.binaries import require_binary
from tests.slo.conftest import ROOT, RULES, Stack


def test_rules_check() -> None:
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_unit_tests() -> None:
    result = subprocess.run(
        [
            require_binary("promtool"),
            "test",
            "rules",
            str(ROOT / "prometheus" / "mlapi-rules.test.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_recording_rules_evaluate_on_live_traffic(stack: Stack) -> None:
    latency = stack.prometheus.query('mlapi:sli_latency:ratio_rate5m{namespace="mlapi"}')
    errors = stack.prometheus.query('mlapi:sli_errors:ratio_rate5m{namespace="mlapi"}')
    assert float(latency[0]["value"][1]) > 0.9  # type: ignore[index]
    assert float(errors[0]["value"][1]) == 0.0  # type: ignore[index]
