"""Builds grafana/mlapi.json from queries.py: `python grafana/dashboard.py`.

Panels reference queries by name; the datasource is the one `datasource` variable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from queries import QUERIES  # noqa: E402

UID = "mlapi-overview"
OUT = Path(__file__).resolve().parent / "mlapi.json"
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, unit, [(query name, legend)], width)
ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]], int]]]] = [
    (
        "Traffic",
        [
            (
                "Requests per second (/predict by status)",
                "reqps",
                [("rps_by_status", "{{status}}"), ("rps_all", "all endpoints")],
                6,
            ),
            (
                "/predict latency",
                "s",
                [("latency_p50", "p50"), ("latency_p95", "p95"), ("latency_p99", "p99")],
                6,
            ),
            (
                "Saturation: requests in flight per pod, and ready pods",
                "short",
                [("inflight_per_pod", "in flight {{pod}}"), ("ready_pods", "ready pods")],
                6,
            ),
            ("Error ratio (5xx)", "percentunit", [("error_ratio", "5xx ratio")], 6),
        ],
    ),
    (
        "SLO",
        [
            (
                "Latency SLI (share under objective, 5m)",
                "percentunit",
                [("slo_latency_sli", "latency SLI")],
                12,
            ),
            ("Error SLI (5xx share, 5m)", "percentunit", [("slo_error_sli", "error SLI")], 12),
        ],
    ),
    (
        "Cache and batching",
        [
            (
                "Cache hit ratio per model and tier",
                "percentunit",
                [("cache_hit_ratio", "{{model}} {{tier}}")],
                8,
            ),
            ("Batch size", "short", [("batch_size_avg", "mean"), ("batch_size_p95", "p95")], 8),
            ("Queue depth", "short", [("queue_depth", "{{pod}}")], 8),
            (
                "Queue wait (each text, each batch's oldest) vs inference (p95)",
                "s",
                [
                    ("queue_wait_p95", "queue wait"),
                    ("batch_queue_wait_p95", "oldest text of a batch"),
                    ("inference_p95", "inference"),
                ],
                12,
            ),
            (
                "Overload rejections and Redis errors",
                "reqps",
                [("overloads", "503 overloaded"), ("redis_errors", "redis {{op}}")],
                12,
            ),
        ],
    ),
    (
        "Models",
        [
            ("Batches per second by model", "ops", [("batches_by_model", "{{model}}")], 12),
            (
                "Model loads (live swaps) by outcome",
                "short",
                [("model_loads", "{{model}} {{outcome}}")],
                12,
            ),
            (
                "Worker restarts and live workers",
                "short",
                [
                    ("worker_restarts", "restarts {{model}} {{pod}}"),
                    ("workers_alive", "alive {{model}}"),
                ],
                12,
            ),
            (
                "Inputs that crashed a worker",
                "short",
                [("crashed_inputs", "{{model}} {{outcome}}")],
                12,
            ),
            (
                "Training jobs: records by state, and jobs ended",
                "short",
                [("train_jobs", "records {{state}}"), ("train_finished", "ended {{state}}")],
                12,
            ),
        ],
    ),
    (
        "Pods",
        [
            (
                "Pods: ready and HPA replicas",
                "short",
                [
                    ("ready_pods", "ready"),
                    ("hpa_current", "HPA current"),
                    ("hpa_desired", "HPA desired"),
                    ("hpa_max", "HPA max"),
                ],
                8,
            ),
            ("CPU per pod (cores)", "short", [("cpu_per_pod", "{{pod}}")], 8),
            ("Memory per pod (RSS)", "bytes", [("memory_per_pod", "{{pod}}")], 8),
            ("CPU used / requested", "percentunit", [("cpu_vs_request", "{{pod}}")], 24),
        ],
    ),
]


def _panel(
    pid: int, title: str, unit: str, targets: list[tuple[str, str]], x: int, y: int, w: int
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": QUERIES[name], "legendFormat": legend}
            for i, (name, legend) in enumerate(targets)
        ],
    }


def build() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y, pid = 0, 1
    for row_title, row in ROWS:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y, x = pid + 1, y + 1, 0
        for title, unit, targets, width in row:
            if x + width > 24:
                x, y = 0, y + 8
            panels.append(_panel(pid, title, unit, targets, x, y, width))
            pid, x = pid + 1, x + width
        y += 8
    return {
        "uid": UID,
        "title": "mlapi",
        "tags": ["mlapi"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "editable": True,
        "time": {"from": "now-30m", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Data source",
                    "current": {},
                },
                {
                    "name": "namespace",
                    "type": "query",
                    "datasource": DS,
                    "label": "Namespace",
                    "query": "label_values(mlapi_model_info, namespace)",
                    "definition": "label_values(mlapi_model_info, namespace)",
                    "refresh": 2,
                    "current": {},
                },
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
