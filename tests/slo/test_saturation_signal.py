"""The saturation signal leads the latency: a k6 ramp against a real mlapi, scraped by a real
Prometheus, read through the prometheus-adapter component's own query."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from harness.autoscale import SCRIPT, adapter_query, concrete_query
from harness.plot import latency_query
from harness.servers import MlapiProcess, PrometheusServer
from tests.binaries import require_binary

pytestmark = pytest.mark.slow
QUIET_S, RAMP_S = 10, 30  # 1 VU, then a ramp to 16 VUs


def crossing(series: list[tuple[float, float]], after: float, floor: float) -> float | None:
    """The first time past `after` the series reaches twice its median before `after`."""
    before = [v for t, v in series if 2 <= t < after]
    assert before, "no samples before the ramp"
    threshold = 2 * max(statistics.median(before), floor)
    return next((t for t, v in series if t >= after and v >= threshold), None)


def test_in_flight_rises_before_the_p99(model_dir: Path, tmp_path: Path) -> None:
    k6 = require_binary("k6")
    mlapi = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_VARIANT": "onnx-fp32",
            "MLAPI_THREADS": "1",
            "MLAPI_ACCESS_LOG": "false",
        },
        tmp_path / "mlapi.log",
    )
    prometheus = PrometheusServer(
        require_binary("prometheus"),
        tmp_path,
        [f"127.0.0.1:{mlapi.port}"],
        [],
        {"namespace": "mlapi", "pod": "mlapi-0"},
    )
    try:
        mlapi.start()
        prometheus.start()
        prometheus.wait_for_scrape()
        start = time.time()
        done = subprocess.run(
            [
                k6, "run", "--quiet", "--no-color",
                "-e", f"BASE_URL={mlapi.url}",
                "-e", f"STAGES={QUIET_S}s:1,{RAMP_S}s:16",
                "-e", f"SUMMARY={tmp_path / 'k6.json'}",
                "-e", "SLO_MS=60000",
                str(SCRIPT),
            ],
            env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        prometheus.wait_for_scrape(after=time.time() + 1)
        end = time.time()

        def series(expr: str) -> list[tuple[float, float]]:
            (result,) = prometheus.query_range(expr, start, end)
            values = result["values"]
            assert isinstance(values, list)
            return [(float(t) - start, float(v)) for t, v in values if v != "NaN"]

        query = concrete_query(adapter_query("mlapi_inflight_requests"), "mlapi_inflight_requests",
                               ["mlapi-0"], time_scale=0.05)  # fmt: skip
        in_flight = series(query)
        p99 = series(latency_query(0.99))
        batch_wait = series(
            "histogram_quantile(0.95, sum by (le) "
            "(rate(mlapi_batch_queue_wait_seconds_bucket[5s])))"
        )
    finally:
        prometheus.stop()
        mlapi.stop()
    signal_at = crossing(in_flight, QUIET_S, floor=0.25)
    p99_at = crossing(p99, QUIET_S, floor=0.001)
    report = f"in flight at {signal_at}, p99 at {p99_at}: {in_flight} / {p99}"
    print(f"\nsaturation: in flight x2 at {signal_at} s, p99 x2 at {p99_at} s")
    assert signal_at is not None, report
    assert p99_at is not None and signal_at < p99_at, report
    assert max(v for _, v in in_flight) >= 4  # 16 VUs: the pod holds many requests at once
    assert batch_wait, "no batch queue wait observed"
