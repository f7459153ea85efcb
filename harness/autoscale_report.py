"""The autoscaling rehearsal's report: steps, scale-ups, failures, and its plot."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.autoscale_hpa import Spec  # noqa: E402
from harness.plot import latency_query  # noqa: E402
from harness.servers import PrometheusServer  # noqa: E402


def _steps(stages: str) -> list[tuple[float, float, int, int]]:
    """(start s, end s, VUs at the start, VUs at the end) of each k6 stage."""
    out, start, previous = [], 0.0, None
    for part in stages.split(","):
        duration, target = part.split(":")
        seconds = float(duration[:-1]) * (60 if duration.endswith("m") else 1)
        vus = int(target)
        out.append((start, start + seconds, vus if previous is None else previous, vus))
        start, previous = start + seconds, vus
    return out


def _p99(prometheus: PrometheusServer, window: tuple[float, float]) -> list[list[float]]:
    result = prometheus.query_range(latency_query(0.99), window[0], window[1])
    if not result:
        return []
    values = result[0]["values"]
    assert isinstance(values, list)
    return [
        [round(float(t) - window[0], 1), round(float(v) * 1000, 2)]
        for t, v in values
        if not math.isnan(float(v))
    ]


def summarize(
    *,
    args: argparse.Namespace,
    spec: Spec,
    query: str,
    summary: dict[str, Any],
    k6_log: list[str],
    timeline: list[dict[str, Any]],
    events: list[dict[str, Any]],
    prometheus: PrometheusServer,
    window: tuple[float, float],
    balancer_log: list[str],
) -> dict[str, Any]:
    metrics = summary["metrics"]
    steps = []
    for i, (start, end, vus_from, vus_to) in enumerate(_steps(args.stages)):
        during = [p["replicas"] for p in timeline if start <= p["t_s"] < end]
        values = metrics.get(f"http_req_duration{{step:{i}}}", {}).get("values", {})
        p99 = values.get("p(99)")
        steps.append(
            {
                "step": i,
                "from_s": start,
                "to_s": end,
                "vus": [vus_from, vus_to],
                "replicas": [min(during), max(during)] if during else None,
                "p99_ms": round(p99, 1) if p99 is not None else None,
                "p99_within_slo": p99 is not None and p99 < args.slo_ms,
            }
        )
    scale_ups = []
    for event in events:
        if event["action"] != "start" or event["at_s"] < 0:
            continue
        step = next((s for s in steps if s["from_s"] <= event["at_s"] < s["to_s"]), steps[-1])
        ready = event.get("ready_at_s")
        scale_ups.append(
            {
                **event,
                "step": step["step"],
                "decision_to_ready_s": round(ready - event["at_s"], 2) if ready else None,
                "step_start_to_ready_s": round(ready - step["from_s"], 2) if ready else None,
            }
        )
    return {
        "model": str(args.model_dir or "tiny DistilBERT (random weights)"),
        "text": args.sentences or "generated (seed sentences, unique tags)",
        "stages": args.stages,
        "time_scale": args.time_scale,
        "hpa": {
            "metric": spec.metric,
            "target_per_pod": spec.target,
            "min_replicas": spec.min_replicas,
            "max_replicas": spec.max_replicas,
            "scale_up_window_s": spec.up.window_s,
            "scale_down_window_s": spec.down.window_s,
            "sync_s": args.sync_s * args.time_scale,
            "query": query,
        },
        "requests": int(metrics["http_reqs"]["values"]["count"]),
        "failed": int(metrics.get("failed_requests", {}).get("values", {}).get("count", 0)),
        "failures": [line for line in k6_log if "failed request" in line][:20],
        "max_replicas_seen": max((p["replicas"] for p in timeline), default=0),
        "steps": steps,
        "scale_ups": scale_ups,
        "events": events,
        "timeline": timeline,
        "p99_ms_over_time": _p99(prometheus, window),
        "balancer_log": balancer_log,
    }


def plot(report: dict[str, Any], path: Path) -> None:
    figure, (pods, metric, latency) = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    timeline = report["timeline"]
    ts = [p["t_s"] for p in timeline]
    pods.step(ts, [p["replicas"] for p in timeline], where="post", label="replicas")
    pods.step(ts, [p["ready"] for p in timeline], where="post", label="ready", linestyle="--")
    vus = pods.twinx()
    edges = [(s["from_s"], s["vus"][0]) for s in report["steps"]]
    edges.append((report["steps"][-1]["to_s"], report["steps"][-1]["vus"][1]))
    vus.plot([t for t, _ in edges], [v for _, v in edges], color="grey", alpha=0.5, label="VUs")
    vus.set_ylabel("k6 VUs")
    pods.set_ylabel("replicas")
    pods.legend(loc="upper left")
    hpa = report["hpa"]
    metric.plot(
        ts, [p["metric_per_pod"] for p in timeline], label=f"{hpa['metric']} per pod (adapter)"
    )
    metric.axhline(hpa["target_per_pod"], color="red", linestyle=":", label="target")
    metric.set_ylabel("in flight per pod")
    metric.legend(loc="upper left")
    over_time = report["p99_ms_over_time"]
    latency.plot([t for t, _ in over_time], [v for _, v in over_time], label="p99 (5 s, server)")
    for step in report["steps"]:
        if step["p99_ms"] is not None:
            latency.hlines(step["p99_ms"], step["from_s"], step["to_s"], color="black")
    latency.set_ylabel("/predict p99 ms")
    latency.set_xlabel("seconds since the start of the k6 ramp (black: k6 p99 per step)")
    latency.legend(loc="upper left")
    for axis in (pods, metric, latency):
        axis.grid(True, alpha=0.3)
    figure.suptitle(
        f"HPA rehearsal: {report['requests']} requests, {report['failed']} failed, "
        f"windows x{report['time_scale']}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
