"""`make load`: mlapi + Redis + Prometheus on this machine, a k6 run, and an SLO report.

Writes into reports/: k6-summary.json, load.png (latency percentiles and throughput over
time, from Prometheus range queries), slo-report.md, and the service and Prometheus logs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from harness.k6 import run_load
from harness.plot import plot_run
from harness.servers import MlapiProcess, PrometheusServer, RedisServer, find_binary
from harness.slo import slo_report

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.load", description=__doc__)
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=os.environ.get("MLAPI_MODEL_DIR"),
        help="default: the benchmark's full-size model (built once)",
    )
    parser.add_argument("--variant", default="auto")
    parser.add_argument("--vus", default="10")
    parser.add_argument("--ramp-up", default="10s")
    parser.add_argument("--hold", default="60s")
    parser.add_argument("--ramp-down", default="10s")
    parser.add_argument("--cache-rate", default="0.95")
    parser.add_argument("--slo-ms", type=float, default=300.0, help="latency objective")
    parser.add_argument("--slo-target", type=float, default=0.99, help="share under it")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.model_dir is None:
        from bench.model import full_size_model

        args.model_dir = full_size_model()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(find_binary("redis-server"), out)
    redis.start()
    mlapi = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(args.model_dir),
            "MLAPI_VARIANT": args.variant,
            "MLAPI_REDIS_URL": redis.url,
        },
        out / "mlapi.log",
    )
    prometheus: PrometheusServer | None = None
    try:
        mlapi.start(timeout=120)
        prometheus = PrometheusServer(
            find_binary("prometheus"),
            out,
            [f"127.0.0.1:{mlapi.port}"],
            [ROOT / "prometheus" / "mlapi-rules.yml"],
            {"namespace": "mlapi", "pod": "local"},
        )
        prometheus.start()
        prometheus.wait_for_scrape()
        time.sleep(1)
        started = time.time()
        variables = {
            "BASE_URL": mlapi.url,
            "VUS": args.vus,
            "RAMP_UP": args.ramp_up,
            "HOLD": args.hold,
            "RAMP_DOWN": args.ramp_down,
            "CACHE_RATE": args.cache_rate,
            "SLO_MS": str(args.slo_ms),
            "SUMMARY": str(out / "k6-summary.json"),
        }
        logging.info("k6 run load.js with %s", variables)
        k6 = run_load(variables, quiet=False, timeout=24 * 3600)
        (out / "k6-output.txt").write_text(k6.stdout + k6.stderr)
        time.sleep(3)  # the last scrapes
        ended = time.time()
        summary = json.loads((out / "k6-summary.json").read_text())
        plot_run(prometheus, started, ended, out / "load.png")
        report = slo_report(
            summary,
            prometheus,
            started,
            ended,
            k6.returncode,
            objective_ms=args.slo_ms,
            target=args.slo_target,
            profile=variables,
        )
        (out / "slo-report.md").write_text(report)
        print(k6.stdout[-2500:])
        print(report)
        return 0 if "**met**" in report else 1
    finally:
        if prometheus is not None:
            prometheus.stop()
        mlapi.stop()
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
