"""Every dashboard query is valid PromQL (promtool) and returns data from a live mlapi."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.binaries import require_binary
from tests.slo.conftest import ROOT, Stack

sys.path.insert(0, str(ROOT / "grafana"))
from dashboard import UID, render  # noqa: E402
from queries import K8S_ONLY, QUERIES  # noqa: E402

DASHBOARD = ROOT / "grafana" / "mlapi.json"


def concrete(expr: str) -> str:
    return expr.replace("$namespace", "mlapi").replace("$__rate_interval", "20s")


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def test_committed_dashboard_is_the_generated_one() -> None:
    assert DASHBOARD.read_text() == render(), "run: python grafana/dashboard.py"
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == UID
    assert [v["name"] for v in dashboard["templating"]["list"]][0] == "datasource"
    assert sorted(set(dashboard_exprs())) == sorted(set(QUERIES.values()))


def test_every_expression_passes_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:{name}", "expr": concrete(expr)}
                    for name, expr in QUERIES.items()
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(QUERIES)} rules found" in result.stdout


@pytest.mark.parametrize("name", sorted(set(QUERIES) - K8S_ONLY))
def test_query_returns_series_from_live_mlapi(stack: Stack, name: str) -> None:
    result = stack.prometheus.query(concrete(QUERIES[name]))
    assert result, f"{name}: no series"


@pytest.mark.parametrize("name", sorted(K8S_ONLY))
def test_kubernetes_only_queries_parse(stack: Stack, name: str) -> None:
    stack.prometheus.query(concrete(QUERIES[name]))  # raises on a PromQL error


def test_cache_hit_ratio_reflects_the_traffic(stack: Stack) -> None:
    tiers = {
        r["metric"]["tier"]: float(r["value"][1])  # type: ignore[index]
        for r in stack.prometheus.query(concrete(QUERIES["cache_hit_ratio"]))
    }
    assert set(tiers) == {"memory", "redis"}
    assert tiers["memory"] > 0.5  # the seed traffic repeats 10 sentences
