"""`make stress`: the plane-delay seed's stress shape against mlapi and the seed's own design.

wrk (8 threads, 400 connections, 45 s, 2 s timeout by default, as in the seed) drives one
target per configuration: the seed's design (Flask + flask-restful + pickle) and mlapi serving
the same tabular model (ONNX, skops, cached), and mlapi's text model; k6 then drives the
tabular and text models of one mlapi process at once with the same shape (mixed bodies).
Every run reports requests/s, latency, timeouts and socket errors, and the SLO report puts the
configurations side by side: the SLI (requests answered 2xx within the objective, of all sent),
the error budget spent and a verdict against the SLO. Writes reports/stress/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.servers import MlapiProcess, find_binary
from harness.stress_report import plot, report

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk" / "post.lua"
TEXT_BODY = json.dumps({"text": ["I love you!", "I hate you!", "I am a Kubernetes Cluster!"]})


@dataclass(frozen=True)
class Shape:
    threads: int
    connections: int
    duration: str
    timeout: str
    objective_ms: float


class SeedProcess(MlapiProcess):
    ready_path = "/health"

    def __init__(self, pickle_path: Path, log_path: Path) -> None:
        super().__init__({}, log_path)
        self.pickle_path = pickle_path

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.seed_tabular",
            str(self.pickle_path),
            "--port",
            str(self.port),
        ]


def run_wrk(url: str, path: str, body: str, shape: Shape) -> dict[str, Any]:
    env = {
        **os.environ,
        "WRK_PATH": path,
        "WRK_BODY": body,
        "WRK_OBJECTIVE_MS": str(shape.objective_ms),
    }
    command = [
        find_binary("wrk"),
        f"-t{shape.threads}",
        f"-c{shape.connections}",
        f"-d{shape.duration}",
        f"--timeout={shape.timeout}",
        "-s",
        str(LUA),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    line = next(ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("{"))
    raw = json.loads(line)
    seconds = raw["duration_us"] / 1e6
    completed = raw["requests"]
    failed = raw["timeouts"] + raw["status_errors"] + raw["read_errors"] + raw["write_errors"]
    sent = completed + raw["timeouts"]  # a timed-out request never completes
    good = max(0.0, completed * raw["under_objective"] - raw["status_errors"] - raw["read_errors"])
    return {
        "tool": "wrk",
        "requests": completed,
        "req_per_s": round(completed / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "timeouts": raw["timeouts"],
        "socket_errors": {k: raw[f"{k}_errors"] for k in ("connect", "read", "write")},
        "non_2xx": raw["status_errors"],
        "failed": failed,
        "sli": round(good / sent, 6) if sent else 0.0,
        "command": " ".join(command),
    }


def run_k6_mixed(
    url: str, tabular_path: str, tabular_body: str, shape: Shape, out: Path
) -> dict[str, Any]:
    summary = out / "k6-mixed.json"
    variables = {
        "BASE_URL": url,
        "TABULAR_PATH": tabular_path,
        "TABULAR_BODY": tabular_body,
        "TEXT_PATH": "/predict",
        "TEXT_BODY": TEXT_BODY,
        "VUS": str(shape.connections),
        "DURATION": shape.duration,
        "TIMEOUT": shape.timeout,
        "SLO_MS": str(shape.objective_ms),
        "SUMMARY": str(summary),
    }
    command = [find_binary("k6"), "run", "--quiet", "--no-color"]
    for key, value in variables.items():
        command += ["-e", f"{key}={value}"]
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
    subprocess.run(
        command + [str(ROOT / "harness" / "stress.js")], capture_output=True, env=env, timeout=900
    )
    metrics = json.loads(summary.read_text())["metrics"]
    duration = metrics["http_req_duration"]["values"]
    requests = metrics["http_reqs"]["values"]
    failed_rate = metrics["http_req_failed"]["values"]["rate"]
    return {
        "tool": "k6 (tabular + text, mixed)",
        "requests": int(requests["count"]),
        "req_per_s": round(requests["rate"], 1),
        "p50_ms": round(duration["med"], 2),
        "p99_ms": round(duration["p(99)"], 2),
        "max_ms": round(duration["max"], 2),
        "timeouts": round(metrics["timed_out"]["values"]["rate"] * requests["count"]),
        "socket_errors": {},
        "non_2xx": None,
        "failed": round(failed_rate * requests["count"]),
        "sli": round(metrics["good"]["values"]["rate"], 6),
        "command": "k6 run harness/stress.js "
        + " ".join(f"-e {k}=..." for k in ("VUS", "DURATION")),
    }


def mlapi_config(out: Path, tabular: Path, text: Path, tabular_settings: dict[str, Any]) -> Path:
    path = out / "models.yaml"
    path.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "default": "text",
                "models": [
                    {"name": "text", "path": str(text)},
                    {
                        "name": "tabular",
                        "path": str(tabular),
                        "kind": "tabular",
                        "settings": tabular_settings,
                    },
                ],
            }
        )
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.stress", description=__doc__)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--duration", default="45s")
    parser.add_argument("--timeout", default="2s", help="a request slower than this is a timeout")
    parser.add_argument("--objective-ms", type=float, default=2000.0, help="SLI latency objective")
    parser.add_argument("--slo", type=float, default=0.99)
    parser.add_argument("--text-model", type=Path, help="default: the benchmark's full-size model")
    parser.add_argument("--tabular-model", type=Path, help="default: trained into the run folder")
    parser.add_argument(
        "--configs", default="seed-flask,mlapi-onnx,mlapi-skops,mlapi-cached,mlapi-text,mlapi-mixed"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "stress")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    shape = Shape(args.threads, args.connections, args.duration, args.timeout, args.objective_ms)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tabular = args.tabular_model.resolve() if args.tabular_model else None
        if tabular is None:
            from trainer.tabular import train

            tabular = work / "breast-cancer"
            train(tabular)
        text = args.text_model.resolve() if args.text_model else None
        if text is None:
            from bench.model import full_size_model

            text = full_size_model()
        import skops.io as sio
        from sklearn.datasets import load_breast_cancer

        row = load_breast_cancer().data[0].tolist()
        tabular_body = json.dumps({"x": row})  # one row per request, as the seed sends it
        pickled = work / "model.pkl"
        pickled.write_bytes(pickle.dumps(sio.load(tabular / "model.skops")))

        def mlapi(settings: dict[str, Any]) -> Callable[[], MlapiProcess]:
            def start() -> MlapiProcess:
                config = mlapi_config(work, tabular, text, settings)
                env = {
                    "MLAPI_MODELS": str(config),
                    "MLAPI_LOG_LEVEL": "WARNING",
                    "MLAPI_ACCESS_LOG": "false",
                }
                return MlapiProcess(env, out / "mlapi.log")

            return start

        runs: dict[str, tuple[Callable[[], MlapiProcess], str, str, str]] = {
            "seed-flask": (
                lambda: SeedProcess(pickled, out / "seed.log"),
                "/predict",
                tabular_body,
                "tabular (pickle)",
            ),
            "mlapi-onnx": (mlapi({}), "/models/tabular/predict", tabular_body, "tabular (onnx)"),
            "mlapi-skops": (
                mlapi({"tabular_runtime": "skops"}),
                "/models/tabular/predict",
                tabular_body,
                "tabular (skops)",
            ),
            "mlapi-cached": (
                mlapi({"cache_results": True}),
                "/models/tabular/predict",
                tabular_body,
                "tabular (onnx, cached)",
            ),
            "mlapi-text": (mlapi({}), "/predict", TEXT_BODY, "text (seed sentences, cached)"),
            "mlapi-mixed": (mlapi({}), "/models/tabular/predict", tabular_body, "tabular + text"),
        }
        results = []
        for name in args.configs.split(","):
            start, path, body, target = runs[name]
            service = start()
            service.start(timeout=300)
            logging.info("%s: %s", name, target)
            try:
                if name == "mlapi-mixed":
                    result = run_k6_mixed(service.url, path, body, shape, out)
                else:
                    result = run_wrk(service.url, path, body, shape)
                result["peak_rss_mb"] = round(service.memory_kib()["VmHWM"] / 1024)
            finally:
                service.stop()
            results.append({"config": name, "target": target, **result})
            time.sleep(1)
    run = {
        "shape": vars(shape),
        "slo": args.slo,
        "results": results,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    from bench.machine import describe

    run["machine"] = describe()
    (out / "stress.json").write_text(json.dumps(run, indent=2) + "\n")
    (out / "slo-report.md").write_text(report(run))
    plot(run, out / "stress.png")
    print(report(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
