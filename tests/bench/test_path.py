"""`python -m bench.path` runs every inference route through the whole stack and writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

from bench.path import ROUTES, main


def test_path_bench_writes_a_figure_per_route(tmp_path: Path) -> None:
    assert main(["--count", "20", "--rounds", "2", "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("path-*.json")
    run = json.loads(written.read_text())
    assert set(run["routes"]) == set(ROUTES)
    for figures in run["routes"].values():
        assert len(figures["rounds"]) == 2
        assert 0 < figures["us_per_request"] == round(min(figures["rounds"]), 2)
    assert run["machine"]["cpu"]
