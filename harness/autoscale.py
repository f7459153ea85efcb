"""`make autoscale`: the HPA's algorithm run for real over replicas of `python -m mlapi`.

There is no Kubernetes API server here, so this plays the controller: every sync period it
runs the prometheus-adapter query of `.k8s/components/autoscaling-prometheus-adapter` against a
real Prometheus that scrapes every replica, feeds the per-pod values to the algorithm of
`harness.autoscale_hpa` with the target and behaviour of the bundle's HPA (the base HPA with
the component's metrics), and starts or drains (SIGTERM) replicas behind HAProxy as it says.
k6 (`harness/autoscale.js`) drives a ramp of VUs through the balancer on cold text. The report
(JSON and a plot) holds the replicas over time, p99 per step, the time from a load step to a
new replica serving, and the failed requests (the target is 0, drains included).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.autoscale_hpa import Controller, Spec
from harness.haproxy import HAProxy
from harness.servers import MlapiProcess, PrometheusServer, find_binary

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "autoscale.js"
ADAPTER = ROOT / ".k8s" / "components" / "autoscaling-prometheus-adapter"
BASE_HPA = ROOT / ".k8s" / "base" / "mlapi-horizontalpodautoscaler.yaml"
FULL_STAGES = "60s:10,60s:40,180s:40,60s:10,420s:10"
SHORT_STAGES = "6s:2,4s:12,30s:12,4s:2,80s:2"  # tail: the 30 s window, 1 pod per 6 s, margin
NAMESPACE = "mlapi"


def bundle_hpa() -> dict[str, Any]:
    """The base HPA with the adapter component's JSON patch applied (it replaces metrics)."""
    hpa: dict[str, Any] = yaml.safe_load(BASE_HPA.read_text())
    for op in yaml.safe_load((ADAPTER / "mlapi-horizontalpodautoscaler-patch.yaml").read_text()):
        assert op["op"] == "replace" and op["path"] == "/spec/metrics", op
        hpa["spec"]["metrics"] = op["value"]
    return hpa


def adapter_query(metric: str) -> str:
    """The adapter rule's metricsQuery for `metric`, still with its <<.Series>> templates."""
    configmap = yaml.safe_load((ADAPTER / "mlapi-prometheus-adapter-configmap.yaml").read_text())
    rules = yaml.safe_load(configmap["data"]["config.yaml"])["rules"]
    rule = next(r for r in rules if r["name"]["as"] == metric)
    query: str = rule["metricsQuery"]
    return query


def concrete_query(template: str, series: str, pods: list[str], time_scale: float) -> str:
    """The query as the adapter sends it for these pods; ranges scaled like the windows."""
    matchers = f'namespace="{NAMESPACE}",pod=~"{"|".join(pods)}"'
    query = template.replace("<<.Series>>", series).replace("<<.LabelMatchers>>", matchers)
    query = query.replace("<<.GroupBy>>", "pod")
    if time_scale != 1.0:
        query = query.replace("[1m]", f"[{max(2, round(60 * time_scale))}s]")
    return query


class ReplicaPrometheus(PrometheusServer):
    """A real Prometheus that labels each replica as its pod (`pod="replica-N"`)."""

    def __init__(self, binary: str, workdir: Path, ports: list[int]) -> None:
        super().__init__(binary, workdir, [], [], {})
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "mlapi",
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{port}"],
                            "labels": {"namespace": NAMESPACE, "pod": f"replica-{i}"},
                        }
                        for i, port in enumerate(ports)
                    ],
                }
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))


class Balancer(HAProxy):
    """The harness's HAProxy with a check read timeout: a replica busy at its CPU limit
    answers /ready late, which is no reason to take it out (the kubelet's probe allows 1 s)."""

    def __init__(self, backends: list[int], workdir: Path) -> None:
        super().__init__(backends, workdir)
        text = self.config.read_text()
        self.config.write_text(
            text.replace("    timeout server", "    timeout check 3s\n    timeout server")
        )

    def wait_for_servers(self, servers: list[int], timeout: float = 30.0) -> None:
        """Until HAProxy marks these replicas UP and no other: HAProxy 2.6 starts every server
        UP until its first check, and a request sent to a slot not started yet fails."""
        deadline = time.monotonic() + timeout
        names = {f"r{i}" for i in servers}
        while time.monotonic() < deadline:
            text = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text
            rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
            up = {r["svname"] for r in rows if r["status"] == "UP" and r["svname"][1:].isdigit()}
            if up == names:
                return
            time.sleep(0.1)  # the poll interval of a bounded wait on HAProxy's checks
        raise TimeoutError(f"HAProxy did not mark exactly {sorted(names)} UP")


class Pool:
    """Replica slots: `off`, `starting`, `ready` or `draining`; started and drained in threads."""

    def __init__(self, env: dict[str, str], workdir: Path, slots: int, began: float) -> None:
        self.replicas = [MlapiProcess(env, workdir / f"replica-{i}.log") for i in range(slots)]
        self.state = ["off"] * slots
        self.began = began
        self.events: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def _now(self) -> float:
        return round(time.monotonic() - self.began, 2)

    def running(self) -> list[int]:
        with self.lock:
            return [i for i, s in enumerate(self.state) if s in ("starting", "ready")]

    def ready(self) -> list[int]:
        with self.lock:
            return [i for i, s in enumerate(self.state) if s == "ready"]

    def _start(self, index: int, event: dict[str, Any]) -> None:
        try:
            self.replicas[index].start(timeout=300)
        except Exception as exc:  # noqa: BLE001 - reported, the slot is free again
            event["error"] = str(exc)[-500:]
            with self.lock:
                self.state[index] = "off"
            return
        event["ready_at_s"] = self._now()
        with self.lock:
            self.state[index] = "ready"

    def _drain(self, index: int, event: dict[str, Any]) -> None:
        self.replicas[index].stop()  # SIGTERM: /ready 503, the drain, then exit
        event["stopped_at_s"] = self._now()
        with self.lock:
            self.state[index] = "off"

    def scale_to(self, replicas: int) -> None:
        running = self.running()
        with self.lock:
            if replicas > len(running):
                free = [i for i, s in enumerate(self.state) if s == "off"]
                todo = [(i, "start", self._start) for i in free[: replicas - len(running)]]
            else:  # the newest first, as the ReplicaSet picks the youngest pods
                todo = [(i, "drain", self._drain) for i in running[replicas:][::-1]]
            for index, _, _ in todo:
                self.state[index] = "starting" if replicas > len(running) else "draining"
        for index, action, target in todo:
            event = {"at_s": self._now(), "replica": index, "action": action}
            self.events.append(event)
            thread = threading.Thread(target=target, args=(index, event))
            thread.start()
            self.threads.append(thread)

    def stop_all(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)
        for replica in self.replicas:
            replica.stop()


def parse_stages(stages: str) -> list[tuple[float, int]]:
    def seconds(text: str) -> float:
        return float(text[:-1]) * (60 if text.endswith("m") else 1)

    return [(seconds(d), int(t)) for d, t in (s.split(":") for s in stages.split(","))]


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from harness.autoscale_report import summarize

    hpa = bundle_hpa()
    spec = Spec.from_hpa(hpa, args.time_scale)
    spec = Spec(
        spec.metric,
        args.target or spec.target,
        args.min_replicas or spec.min_replicas,
        args.max_replicas,
        spec.up,
        spec.down,
    )
    template = adapter_query(spec.metric)
    model_dir = args.model_dir
    if model_dir is None:
        from mlapi.tools.export import export
        from mlapi.tools.synthetic import tiny_distilbert

        model_dir = tiny_distilbert(workdir / "tiny-model")
        export(model_dir)
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_WORKERS": str(args.workers),
        "MLAPI_THREADS": str(args.threads),
        "MLAPI_ACCESS_LOG": "false",
        **({"MLAPI_VARIANT": args.variant} if args.variant else {}),
    }
    began = time.monotonic()
    pool = Pool(env, workdir, spec.max_replicas, began)
    ports = [r.port for r in pool.replicas]
    prometheus = ReplicaPrometheus(find_binary("prometheus"), workdir, ports)
    balancer = Balancer(ports, workdir)
    sync_s = args.sync_s * args.time_scale
    timeline: list[dict[str, Any]] = []
    stop = threading.Event()
    controller = Controller(spec)

    def control() -> None:
        while not stop.wait(sync_s):
            running, ready = pool.running(), pool.ready()
            pods = [f"replica-{i}" for i in ready]
            values: dict[str, float] = {}
            query = concrete_query(template, spec.metric, pods, args.time_scale)
            for sample in prometheus.query(query) if pods else []:
                labels, value = sample["metric"], sample["value"]
                values[labels["pod"]] = float(value[1])  # type: ignore[index]
            now = time.monotonic() - began
            desired = controller.decide(
                now, len(running), list(values.values()), len(running) - len(values)
            )
            timeline.append(
                {
                    "t_s": round(now - k6_start[0], 2),
                    "replicas": len(running),
                    "ready": len(ready),
                    "desired": desired,
                    "metric_per_pod": round(sum(values.values()) / len(values), 3)
                    if values
                    else None,
                }
            )
            if desired != len(running):
                pool.scale_to(desired)

    k6_start = [time.monotonic() - began]
    summary_path = workdir / "k6.json"
    try:
        prometheus.start()
        pool.scale_to(spec.min_replicas)
        for thread in pool.threads:
            thread.join()
        if len(pool.ready()) != spec.min_replicas:
            raise RuntimeError(f"replicas did not start: {pool.events}")
        balancer.start()
        balancer.wait_for_servers(pool.ready())
        command = [find_binary("k6"), "run", "--quiet", "--no-color"]
        variables = {
            "BASE_URL": balancer.url,
            "STAGES": args.stages,
            "SUMMARY": str(summary_path),
            "SLO_MS": str(args.slo_ms),
            "PER_REQUEST": str(args.per_request),
            **({"SENTENCES": str(Path(args.sentences).resolve())} if args.sentences else {}),
        }
        for key, value in variables.items():
            command += ["-e", f"{key}={value}"]
        k6_start[0] = time.monotonic() - began
        k6 = subprocess.Popen(
            [*command, str(SCRIPT)],
            env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        scaler = threading.Thread(target=control)
        scaler.start()
        total = sum(d for d, _ in parse_stages(args.stages))
        _, stderr = k6.communicate(timeout=total + 180)
        k6_end = time.monotonic() - began
        stop.set()
        scaler.join()
        if not summary_path.exists():
            raise RuntimeError(f"k6 wrote no summary: {stderr.decode()[-2000:]}")
        return summarize(
            args=args,
            spec=spec,
            query=concrete_query(template, spec.metric, ["..."], args.time_scale),
            summary=json.loads(summary_path.read_text()),
            k6_log=stderr.decode(errors="replace").splitlines(),
            timeline=timeline,
            events=[
                {**e, **{k: round(v - k6_start[0], 2) for k, v in e.items() if k.endswith("_s")}}
                for e in pool.events
            ],
            prometheus=prometheus,
            window=(time.time() - (k6_end - k6_start[0]), time.time()),
            balancer_log=balancer.errors()[-40:],
        )
    finally:
        stop.set()
        balancer.stop()
        pool.stop_all()
        prometheus.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.autoscale", description=__doc__)
    p.add_argument(
        "--model-dir",
        type=Path,
        default=os.environ.get("MLAPI_MODEL_DIR") or None,
        help="model folder (default: $MLAPI_MODEL_DIR, else a tiny DistilBERT built here)",
    )
    p.add_argument("--variant", help="MLAPI_VARIANT of the replicas (default: auto)")
    p.add_argument("--workers", type=int, default=1, help="MLAPI_WORKERS per replica")
    p.add_argument("--threads", type=int, default=1, help="MLAPI_THREADS per replica")
    p.add_argument("--sentences", help="JSON array of real sentences (default: generated)")
    p.add_argument("--per-request", type=int, default=10, help="sentences per /predict")
    p.add_argument("--stages", default=FULL_STAGES, help="k6 stages, duration:VUs,...")
    p.add_argument("--time-scale", type=float, default=1.0, help="scales windows and periods")
    p.add_argument("--sync-s", type=float, default=15.0, help="HPA sync period (unscaled)")
    p.add_argument("--target", type=float, help="in flight per pod (default: the bundle's)")
    p.add_argument("--min-replicas", type=int, help="default: the bundle's HPA")
    p.add_argument("--max-replicas", type=int, default=4, help="what this machine can hold")
    p.add_argument("--slo-ms", type=float, default=300.0, help="the p99 objective per step")
    p.add_argument(
        "--short",
        action="store_true",
        help=f"CI mode: stages {SHORT_STAGES}, windows x0.1, 1 to 3 replicas",
    )
    p.add_argument("--out", type=Path, default=Path("reports/autoscale"))
    args = p.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.short:
        args.stages, args.time_scale = SHORT_STAGES, 0.1
        args.min_replicas, args.max_replicas = args.min_replicas or 1, 3
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlapi-autoscale-") as tmp:
        report = run(args, Path(tmp))
    from harness.autoscale_report import plot

    plot(report, args.out / "autoscale.png")
    (args.out / "autoscale.json").write_text(json.dumps(report, indent=2) + "\n")
    keys = ("requests", "failed", "max_replicas_seen", "steps", "scale_ups")
    print(json.dumps({k: report[k] for k in keys}))
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
