"""Latency percentiles and throughput over a run, from Prometheus range queries."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

from harness.servers import PrometheusServer  # noqa: E402

PREDICT = 'handler="/predict"'


def latency_query(q: float) -> str:
    return (
        f"histogram_quantile({q}, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{PREDICT}}}[5s])))"
    )


THROUGHPUT = {
    "all requests": "sum(rate(http_requests_total[5s]))",
    "/predict": f"sum(rate(http_requests_total{{{PREDICT}}}[5s]))",
}


def _series(
    prometheus: PrometheusServer, expr: str, start: float, end: float
) -> tuple[list[float], list[float]]:
    result = prometheus.query_range(expr, start, end)
    if not result:
        return [], []
    values = result[0]["values"]
    assert isinstance(values, list)
    xs = [float(t) - start for t, _ in values]
    ys = [float(v) if v not in ("NaN", "+Inf") else float("nan") for _, v in values]
    return xs, ys


def plot_run(prometheus: PrometheusServer, start: float, end: float, path: Path) -> None:
    figure, (latency, rate) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for q, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        xs, ys = _series(prometheus, latency_query(q), start, end)
        latency.plot(xs, [y * 1000 for y in ys], label=label)
    latency.set_ylabel("/predict latency (ms)")
    latency.set_yscale("log")
    latency.yaxis.set_major_formatter(ScalarFormatter())
    latency.yaxis.set_minor_formatter(ScalarFormatter())
    latency.grid(True, which="both", alpha=0.3)
    latency.legend(loc="upper right")
    for label, expr in THROUGHPUT.items():
        rate.plot(*_series(prometheus, expr, start, end), label=label)
    rate.set_ylabel("requests / s")
    rate.set_xlabel("seconds since the start of the k6 run")
    rate.grid(True, alpha=0.3)
    rate.legend(loc="lower center")
    figure.suptitle("mlapi under load.js (server-side, Prometheus, 5 s windows)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
