"""`make fleet`: one model version across replicas, proven on real processes under k6 load.

The `make scaleout` arrangement (a redis-server, replicas sharing it behind HAProxy, k6 through
the balancer) with a signing key, so that the replicas share the desired state. While k6 runs:

1. an admin load of version 2 on one replica; the time until every replica serves it;
2. a replica started afterwards; the version of its first answer;
3. a replica that cannot read version 2's folder (narrower MLAPI_MODEL_ROOTS): it keeps
   version 1, reports skew, and the skew alert's expression returns it from a real Prometheus;
4. a rollback on one replica; the time until every replica serves version 1 again;
5. a 10% canary of version 2: the share of distinct texts it answers through the balancer,
   and whether each text always gets the same version.

The JSON report (reports/fleet.json) holds every figure, and k6's failed requests (target 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.haproxy import HAProxy
from harness.servers import MlapiProcess, PrometheusServer, RedisServer, find_binary

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "scaleout.js"
RULES = ROOT / "prometheus" / "mlapi-rules.yml"
ADMIN = {"Authorization": "Bearer fleet-admin-key"}


def models(root: Path) -> tuple[Path, Path]:
    """Two tiny DistilBERTs with other weights: version 1 and version 2."""
    from mlapi.tools.export import export
    from mlapi.tools.synthetic import tiny_distilbert

    first, second = root / "models" / "v1", root / "models-v2" / "v2"
    for path, seed in ((first, 0), (second, 1)):
        if not (path / "config.json").is_file():
            export(tiny_distilbert(path, seed=seed))
    return first, second


def serving(replica: MlapiProcess) -> str:
    body = httpx.get(f"{replica.url}/models", timeout=5).json()
    version: str = next(m for m in body["models"] if m["name"] == "default")["version"]
    return version


def wait_all(replicas: list[MlapiProcess], version: str, timeout: float = 30) -> float:
    """Seconds until every replica serves `version` (polled every 100 ms)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(serving(r) == version for r in replicas):
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)  # the poll interval of a bounded wait
    raise TimeoutError(f"not every replica serves version {version} after {timeout} s")


def wait_canary(replicas: list[MlapiProcess], timeout: float = 30) -> None:
    def has_canary(replica: MlapiProcess) -> bool:
        body = httpx.get(f"{replica.url}/models", timeout=5).json()
        entry = next(m for m in body["models"] if m["name"] == "default")
        return bool(entry["fleet"]["serving"]["canary"])

    deadline = time.monotonic() + timeout
    while not all(has_canary(r) for r in replicas):
        if time.monotonic() > deadline:
            raise TimeoutError("not every replica serves the canary")
        time.sleep(0.1)  # the poll interval of a bounded wait


def alert_expression(prometheus: PrometheusServer) -> list[dict[str, Any]]:
    rules = yaml.safe_load(RULES.read_text())
    expr = next(
        rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "MlapiModelVersionSkew"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = prometheus.query(expr)
        if found:
            return [dict(s["metric"]) for s in found]  # type: ignore[call-overload]
        time.sleep(0.5)  # scrapes every second
    return []


def canary_split(url: str, texts: list[str]) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as client:

        def version(text: str) -> str:
            response = client.post("/predict", json={"text": [text]})
            response.raise_for_status()
            return response.headers["X-MLAPI-Model-Version"]

        first = {text: version(text) for text in texts}
        again = {text: version(text) for text in texts[:200]}
    share = sum(v == "2" for v in first.values()) / len(texts)
    stable = all(first[t] == v for t, v in again.items())
    return {"texts": len(texts), "share_v2": round(share, 4), "same_version_again": stable}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    v1, v2 = models(workdir)
    redis = RedisServer(find_binary("redis-server"), workdir)
    redis.start()
    env = {
        "MLAPI_MODEL_DIR": str(v1),
        "MLAPI_REDIS_URL": redis.url,
        "MLAPI_REDIS_SIGNING_KEY": "fleet-signing-key-0123456789",
        "MLAPI_ADMIN_KEYS": ADMIN["Authorization"].removeprefix("Bearer "),
        "MLAPI_MODEL_ROOTS": str(workdir),
        "MLAPI_DESIRED_POLL_S": str(args.poll_s),
        "MLAPI_WORKERS": str(args.workers),
        "MLAPI_THREADS": "1",
        "MLAPI_VARIANT": "onnx-fp32",
        "MLAPI_ACCESS_LOG": "false",
    }
    replicas = [MlapiProcess(env, workdir / f"replica-{i}.log") for i in range(args.replicas)]
    extra: list[MlapiProcess] = []
    balancer: HAProxy | None = None
    prometheus: PrometheusServer | None = None
    report: dict[str, Any] = {"replicas": args.replicas, "poll_s": args.poll_s}
    try:
        for replica in replicas:
            replica.start(timeout=120)
        balancer = HAProxy([r.port for r in replicas], workdir)
        balancer.start()
        summary = workdir / "k6.json"
        k6 = subprocess.Popen(
            [
                find_binary("k6"),
                "run",
                "--quiet",
                "--no-color",
                *("-e", f"BASE_URL={balancer.url}", "-e", f"VUS={args.vus}"),
                *("-e", f"DURATION={args.duration}s", "-e", f"SUMMARY={summary}"),
                str(SCRIPT),
            ],
            env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(3)  # k6 under way before the first change
        loaded = httpx.post(
            f"{replicas[0].url}/models/default/load",
            json={"path": str(v2)},
            headers=ADMIN,
            timeout=60,
        )
        loaded.raise_for_status()
        report["load_converged_s"] = wait_all(replicas, "2")

        late = MlapiProcess(env, workdir / "replica-late.log")
        extra.append(late)
        late.start(timeout=120)
        first = httpx.post(f"{late.url}/predict", json={"text": ["first answer"]}, timeout=30)
        report["late_replica_first_version"] = first.headers["X-MLAPI-Model-Version"]

        narrow = MlapiProcess(
            {**env, "MLAPI_MODEL_ROOTS": str(v1.parent)}, workdir / "replica-narrow.log"
        )
        extra.append(narrow)
        narrow.start(timeout=120)
        entry = next(
            m
            for m in httpx.get(f"{narrow.url}/models", timeout=5).json()["models"]
            if m["name"] == "default"
        )
        report["narrow_replica"] = {
            "version": entry["version"],
            "skew": entry["fleet"]["skew"],
            "error": entry["fleet"]["error"],
        }
        prometheus = PrometheusServer(
            find_binary("prometheus"),
            workdir,
            [f"127.0.0.1:{r.port}" for r in [*replicas, narrow]],
            [RULES],
            {"namespace": "mlapi", "pod": "mlapi"},
        )
        prometheus.start()
        report["skew_alert_series"] = alert_expression(prometheus)

        back = httpx.post(f"{replicas[1].url}/models/default/rollback", headers=ADMIN, timeout=60)
        back.raise_for_status()
        report["rollback_converged_s"] = wait_all(replicas, "1")

        canary = httpx.post(
            f"{replicas[2 % len(replicas)].url}/models/default/canary",
            json={"path": str(v2), "percent": 10},
            headers=ADMIN,
            timeout=60,
        )
        canary.raise_for_status()
        wait_canary(replicas)
        texts = [f"distinct review {i} of a film that was {i % 7} stars" for i in range(1000)]
        report["canary"] = canary_split(balancer.url, texts)

        _, stderr = k6.communicate(timeout=args.duration + 120)
        if not summary.exists():
            raise RuntimeError(f"k6 wrote no summary: {stderr.decode()[-2000:]}")
        metrics = json.loads(summary.read_text())["metrics"]
        report["k6"] = {
            "requests": int(metrics["http_reqs"]["values"]["count"]),
            "failed": int(metrics.get("failed_requests", {}).get("values", {}).get("count", 0)),
            "p99_ms": round(metrics["http_req_duration"]["values"]["p(99)"], 1),
        }
    finally:
        if prometheus is not None:
            prometheus.stop()
        if balancer is not None:
            balancer.stop()
        for replica in [*replicas, *extra]:
            replica.stop()
        redis.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--duration", type=int, default=90, help="k6 seconds")
    parser.add_argument("--vus", type=int, default=5)
    parser.add_argument("--workers", type=int, default=0, help="worker processes per replica")
    parser.add_argument("--poll-s", type=float, default=1.0, help="MLAPI_DESIRED_POLL_S")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "fleet.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlapi-fleet-") as tmp:
        report = run(args, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
