"""The SLO report of a load run: SLI against the objective, errors, cache hit ratio."""

from __future__ import annotations

import math
from typing import Any

from harness.servers import PrometheusServer
from mlapi.observability.metrics import LATENCY_BUCKETS

PREDICT = 'handler="/predict"'


def _bucket_for(objective_ms: float) -> float:
    """The largest histogram bound not above the objective (server-side SLI)."""
    seconds = objective_ms / 1000
    return max((b for b in LATENCY_BUCKETS if b <= seconds), default=LATENCY_BUCKETS[0])


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4%}"


def slo_report(
    summary: dict[str, Any],
    prometheus: PrometheusServer,
    start: float,
    end: float,
    k6_exit: int,
    *,
    objective_ms: float,
    target: float,
    profile: dict[str, str],
) -> str:
    window = f"{int(end - start) + 1}s"
    metrics = summary["metrics"]
    client_sli = metrics["predict_under_objective"]["values"]["rate"]
    errors = metrics["http_req_failed"]["values"]["rate"]
    bound = _bucket_for(objective_ms)
    server_sli = prometheus.scalar(
        f'sum(increase(http_request_duration_seconds_bucket{{{PREDICT}, le="{bound:g}"}}'
        f"[{window}])) / sum(increase(http_request_duration_seconds_count{{{PREDICT}}}"
        f"[{window}]))",
        end,
    )
    server_errors = prometheus.scalar(
        f'(sum(increase(http_requests_total{{{PREDICT}, status=~"5.."}}[{window}])) or vector(0))'
        f" / sum(increase(http_requests_total{{{PREDICT}}}[{window}]))",
        end,
    )
    hits = f"sum(increase(mlapi_cache_hits_total[{window}]))"
    model = f'sum(increase(mlapi_cache_misses_total{{tier="redis"}}[{window}]))'
    first_misses = f'sum(increase(mlapi_cache_misses_total{{tier="memory"}}[{window}]))'
    hit_ratio = prometheus.scalar(f"{hits} / ({hits} + ({model} or {first_misses}))", end)
    tiers = {
        tier: prometheus.scalar(
            f'sum(increase(mlapi_cache_hits_total{{tier="{tier}"}}[{window}])) / '
            f'(sum(increase(mlapi_cache_hits_total{{tier="{tier}"}}[{window}])) + '
            f'sum(increase(mlapi_cache_misses_total{{tier="{tier}"}}[{window}])))',
            end,
        )
        for tier in ("memory", "redis")
    }
    duration = metrics["http_req_duration"]["values"]
    predict = metrics["http_req_duration{name:predict}"]["values"]
    met = client_sli >= target and errors < 0.01 and k6_exit == 0
    lines = [
        "# SLO report",
        "",
        f"Objective: {target:.2%} of /predict requests answered (200) within {objective_ms:g} ms;"
        " fewer than 1% of requests failed.",
        "",
        f"Verdict: **{'met' if met else 'missed'}**",
        "",
        "| measure | value |",
        "|---|---|",
        f"| SLI, client side (k6 `predict_under_objective`) | {_pct(client_sli)} |",
        f"| SLI, server side (Prometheus, le={bound:g}s) | {_pct(server_sli)} |",
        f"| failed requests (k6) | {_pct(errors)} |",
        f"| 5xx share of /predict (Prometheus) | {_pct(server_errors)} |",
        f"| cache hit ratio, all tiers (texts) | {_pct(hit_ratio)} |",
        f"| cache hit ratio, memory tier | {_pct(tiers['memory'])} |",
        f"| cache hit ratio, redis tier (of memory misses) | {_pct(tiers['redis'])} |",
        f"| requests | {metrics['http_reqs']['values']['count']} "
        f"({metrics['http_reqs']['values']['rate']:.1f}/s) |",
        f"| latency p50 / p95 / p99, all requests | {duration['med']:.2f} / "
        f"{duration['p(95)']:.2f} / {duration['p(99)']:.2f} ms |",
        f"| /predict p99 | {predict['p(99)']:.2f} ms |",
        f"| k6 thresholds | {'passed' if k6_exit == 0 else f'failed (exit {k6_exit})'} |",
        "",
        "Profile: " + ", ".join(f"{k}={v}" for k, v in profile.items() if k != "SUMMARY"),
        "",
        "![latency and throughput](load.png)",
        "",
    ]
    return "\n".join(lines)
