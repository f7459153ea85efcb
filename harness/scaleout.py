"""`make scaleout`: replicas sharing one Redis behind a real L7 balancer, and replicas dying.

Starts a redis-server, N `python -m mlapi` replicas (worker processes, one shared Redis) and
HAProxy (retries on connection failure, empty response and 503; /ready health checks). Checks
that a text computed on one replica is a cache hit on the others, then runs k6 through the
balancer; during the run one replica gets SIGKILL and another SIGTERM. The JSON report holds
requests, failures (the target is 0), latency, and the hits each replica served.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from harness.haproxy import HAProxy
from harness.servers import MlapiProcess, RedisServer, find_binary

SCRIPT = Path(__file__).resolve().parent / "scaleout.js"


def snapshot(replica: MlapiProcess) -> dict[str, Any] | None:
    try:
        stats = httpx.get(f"{replica.url}/stats", timeout=2).json()
    except httpx.HTTPError:
        return None
    model = stats["models"][stats["default_model"]]
    return {
        "pid": stats["pid"],
        "requests": model["requests"],
        "hits": {tier: figures["hits"] for tier, figures in model["cache"].items()},
        "worker_restarts": sum(w["restarts"] for w in model["workers"]),
    }


def cross_replica_hits(replicas: list[MlapiProcess]) -> list[str]:
    """Ask the first replica, then every other: they answer from the shared Redis."""
    body = {"text": ["computed once, then shared through Redis"]}
    outcomes = []
    for replica in replicas:
        response = httpx.post(f"{replica.url}/predict", json=body, timeout=30)
        response.raise_for_status()
        outcomes.append(response.headers["X-MLAPI-Cache"])
    return outcomes


def model_for(args: argparse.Namespace, workdir: Path) -> Path:
    """The given folder, or a tiny DistilBERT built here (random weights, ONNX exports)."""
    if args.model_dir is not None:
        return Path(args.model_dir)
    from mlapi.tools.export import export
    from mlapi.tools.synthetic import tiny_distilbert

    path = tiny_distilbert(workdir / "tiny-model")
    export(path)
    return path


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model_dir = model_for(args, workdir)
    redis = RedisServer(find_binary("redis-server"), workdir)
    redis.start()
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_REDIS_URL": redis.url,
        "MLAPI_WORKERS": str(args.workers),
        "MLAPI_THREADS": str(args.threads),
        "MLAPI_ACCESS_LOG": "false",
        **({"MLAPI_VARIANT": args.variant} if args.variant else {}),
    }
    replicas = [MlapiProcess(env, workdir / f"replica-{i}.log") for i in range(args.replicas)]
    balancer: HAProxy | None = None
    last: dict[int, dict[str, Any] | None] = {}
    try:
        for replica in replicas:
            replica.start(timeout=300)
        shared = cross_replica_hits(replicas)
        balancer = HAProxy([r.port for r in replicas], workdir)
        balancer.start()
        summary = workdir / "k6.json"
        balancer_before = balancer.backend_stats()
        k6 = subprocess.Popen(
            [
                find_binary("k6"),
                "run",
                "--quiet",
                "--no-color",
                "-e",
                f"BASE_URL={balancer.url}",
                "-e",
                f"VUS={args.vus}",
                "-e",
                f"DURATION={args.duration}s",
                "-e",
                f"SUMMARY={summary}",
                str(SCRIPT),
            ],
            env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        events: list[dict[str, Any]] = []
        began = time.monotonic()

        def chaos() -> None:
            plan = [(0.3, 0, signal.SIGKILL)]
            if len(replicas) > 1:
                plan.append((0.6, 1, signal.SIGTERM))
            for fraction, index, sig in plan:
                time.sleep(max(0.0, began + fraction * args.duration - time.monotonic()))
                last[index] = snapshot(replicas[index])
                process = replicas[index].process
                assert process is not None
                os.kill(process.pid, sig)
                events.append(
                    {
                        "at_s": round(time.monotonic() - began, 2),
                        "replica": index,
                        "signal": signal.Signals(sig).name,
                    }
                )

        killer = threading.Thread(target=chaos)
        killer.start()
        _, stderr = k6.communicate(timeout=args.duration + 120)
        killer.join()
        if not summary.exists():
            raise RuntimeError(f"k6 wrote no summary: {stderr.decode()[-2000:]}")
        data = json.loads(summary.read_text())
        for i, replica in enumerate(replicas):
            last.setdefault(i, None)
            alive = replica.process is not None and replica.process.poll() is None
            if alive:
                last[i] = snapshot(replica)
        balancer_after = balancer.backend_stats()
        metrics = data["metrics"]
        requests = int(metrics["http_reqs"]["values"]["count"])
        failed = int(metrics.get("failed_requests", {}).get("values", {}).get("count", 0))
        duration = metrics["http_req_duration"]["values"]
        k6_log = stderr.decode(errors="replace").splitlines()
        reasons = [line for line in k6_log if "failed request" in line]
        return {
            "model": str(args.model_dir or "tiny DistilBERT (random weights)"),
            "replicas": args.replicas,
            "workers_per_replica": args.workers,
            "vus": args.vus,
            "duration_s": args.duration,
            "balancer": "haproxy",
            "events": events,
            "requests": requests,
            "failed": failed,
            "failures": reasons[:20],
            "balancer_log": balancer.errors()[-40:],
            "requests_per_s": round(requests / args.duration, 1),
            "latency_ms": {k: round(v, 2) for k, v in duration.items()},
            "cross_replica_cache": shared,
            "balancer_counters": {
                k: balancer_after[k] - balancer_before[k] for k in balancer_after
            },
            "per_replica": [
                {
                    "replica": i,
                    "event": next((e["signal"] for e in events if e["replica"] == i), None),
                    "last_stats": last[i],
                }
                for i in range(len(replicas))
            ],
        }
    finally:
        if balancer is not None:
            balancer.stop()
        for replica in replicas:
            replica.stop()
        redis.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.scaleout", description=__doc__)
    p.add_argument(
        "--model-dir",
        type=Path,
        default=os.environ.get("MLAPI_MODEL_DIR") or None,
        help="model folder (default: $MLAPI_MODEL_DIR, else a tiny DistilBERT built here)",
    )
    p.add_argument("--variant", help="MLAPI_VARIANT of the replicas (default: auto)")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--workers", type=int, default=1, help="MLAPI_WORKERS per replica")
    p.add_argument("--threads", type=int, default=1, help="MLAPI_THREADS per replica")
    p.add_argument("--vus", type=int, default=10)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--out", type=Path, default=Path("reports/scaleout.json"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlapi-scaleout-") as tmp:
        report = run(args, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    keys = ("requests", "failed", "requests_per_s", "events", "failures")
    print(json.dumps({k: report[k] for k in keys}))
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
