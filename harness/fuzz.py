"""`make fuzz`: Schemathesis drives a real `python -m mlapi` from its own OpenAPI schema.

Every operation, with no key, a predict key and an admin key, a bounded number of examples per
operation (positive and negative data). The checks: no 5xx, responses that match the schema,
and the service still ready afterwards. The predict routes that the fast lane answers are
declared in the schema, so they are fuzzed through the fast lane. Writes reports/fuzz/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from harness.servers import MlapiProcess, find_binary

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"none": None, "predict": "fuzz-predict-key", "admin": "fuzz-admin-key"}
CHECKS = "not_a_server_error,response_schema_conformance"


def serve(model_dir: Path, out: Path) -> MlapiProcess:
    service = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_VARIANT": "onnx-fp32",
            "MLAPI_WORKERS": "0",
            "MLAPI_THREADS": "1",
            "MLAPI_API_KEYS": KEYS["predict"] or "",
            "MLAPI_ADMIN_KEYS": KEYS["admin"] or "",
            "MLAPI_TRAIN_DIR": str(out / "train"),
            "MLAPI_ACCESS_LOG": "false",
        },
        out / "mlapi.log",
    )
    service.start()
    return service


def fuzz(url: str, key: str | None, examples: int, out: Path, name: str) -> dict[str, Any]:
    command = [
        find_binary("schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--seed",
        "1",
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "30",
        "--no-color",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(out / f"{name}.xml"),
    ]
    if key is not None:
        command += ["--header", f"Authorization: Bearer {key}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    (out / f"{name}.txt").write_text(done.stdout + done.stderr)
    return {"keys": name, "exit": done.returncode, "summary": done.stdout.strip()[-1500:]}


def run(model_dir: Path, out: Path, examples: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    service = serve(model_dir, out)
    try:
        runs = [fuzz(service.url, key, examples, out, name) for name, key in KEYS.items()]
        ready = httpx.get(f"{service.url}/ready", timeout=10).status_code
        alive = service.process is not None and service.process.poll() is None
    finally:
        service.stop()
    report = {"examples_per_operation": examples, "runs": runs, "ready_after": ready}
    report["ok"] = alive and ready == 200 and all(r["exit"] == 0 for r in runs)
    (out / "fuzz.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="model folder (default: a tiny one)")
    parser.add_argument("--examples", type=int, default=20, help="test cases per operation")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "fuzz")
    args = parser.parse_args()
    model_dir = args.model_dir
    if model_dir is None:
        from mlapi.tools.export import export
        from mlapi.tools.synthetic import tiny_distilbert

        model_dir = tiny_distilbert(args.out / "model")
        export(model_dir)
    report = run(model_dir, args.out, args.examples)
    for entry in report["runs"]:
        print(f"--- keys: {entry['keys']} (exit {entry['exit']})\n{entry['summary']}\n")
    print(f"ready afterwards: {report['ready_after']}; ok: {report['ok']}")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
