"""`python -m bench`: mlapi under the seed's k6 load, one real process per configuration.

Writes bench/out/<stamp>.json and .md; `--write-results` also rewrites bench/RESULTS.md.
`--smoke` runs the same steps in seconds on a tiny model (CI keeps it from rotting).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import k6, report
from bench.machine import describe
from bench.model import full_size_model
from bench.modelonly import throughput
from harness.servers import MlapiProcess, RedisServer, find_binary
from mlapi.settings import Settings

OUT = Path(__file__).resolve().parent / "out"
PROFILES = [
    k6.Profile("seed-95", {"CACHE_RATE": "0.95"}, None),
    k6.Profile("seed-50", {"CACHE_RATE": "0.5"}, None),
    k6.Profile("cold", {"COLD": "1"}, 10),
]
CONFIGS = {
    "onnx-int8": {"MLAPI_BACKEND": "onnx", "MLAPI_ONNX_VARIANT": "int8"},
    "onnx-fp32": {"MLAPI_BACKEND": "onnx", "MLAPI_ONNX_VARIANT": "fp32"},
    "torch-fp32": {"MLAPI_BACKEND": "torch"},
}


def run_config(
    name: str,
    model_dir: Path,
    redis: RedisServer,
    workdir: Path,
    timing: dict[str, str],
    extra_env: dict[str, str],
    profiles: list[k6.Profile],
) -> dict[str, Any]:
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_REDIS_URL": redis.url,
        **CONFIGS[name],
        **extra_env,
    }
    service = MlapiProcess(env, workdir / f"{name}.log")
    service.start(timeout=120)
    result: dict[str, Any] = {
        "config": name,
        "env": env,
        "ready_seconds": round(service.ready_seconds, 2),
        "rss_after_warmup_mb": round(service.memory_kib()["VmRSS"] / 1024),
    }
    try:
        for profile in profiles:
            redis.flush()
            logging.info("%s: %s", name, profile.name)
            result[profile.name] = k6.run(
                service.url, profile, workdir / f"{name}-{profile.name}.json", timing
            )
        result["peak_rss_mb"] = round(service.memory_kib()["VmHWM"] / 1024)
    finally:
        service.stop()
    fields: dict[str, object] = {
        "backend": env["MLAPI_BACKEND"],
        "onnx_variant": env.get("MLAPI_ONNX_VARIANT", "int8"),
    }
    if "MLAPI_THREADS" in extra_env:
        fields["threads"] = int(extra_env["MLAPI_THREADS"])
    settings = Settings.model_validate(fields)
    result["model_only"] = throughput(
        settings, model_dir, seconds=2 if "smoke" in timing.get("TAG", "") else 10
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--configs", default="onnx-int8", help=f"comma-separated, from {', '.join(CONFIGS)}"
    )
    parser.add_argument("--hold", default="40s", help="k6 hold at full load per profile")
    parser.add_argument("--vus", default="10")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--profiles",
        default=",".join(p.name for p in PROFILES),
        help="comma-separated subset of seed-95, seed-50, cold",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MLAPI_X=VALUE",
        help="service setting for an A/B run (repeatable)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model, seconds per profile")
    parser.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    timing = {"VUS": args.vus, "RAMP_UP": "3s", "HOLD": args.hold, "RAMP_DOWN": "1s"}
    extra_env = {"MLAPI_LOG_LEVEL": "WARNING"}
    extra_env.update(item.split("=", 1) for item in args.set)
    wanted = args.profiles.split(",")
    profiles = [p for p in PROFILES if p.name in wanted]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.smoke:
            from mlapi.export import export
            from mlapi.synthetic import tiny_distilbert

            model_dir = tiny_distilbert(workdir / "tiny")
            export(model_dir)
            timing = {"VUS": "2", "RAMP_UP": "1s", "HOLD": "2s", "RAMP_DOWN": "1s", "TAG": "smoke"}
            extra_env["MLAPI_THREADS"] = "1"
        else:
            model_dir = full_size_model()
        redis = RedisServer(find_binary("redis-server"), workdir)
        redis.start()
        try:
            results = [
                run_config(name, model_dir, redis, workdir, timing, extra_env, profiles)
                for name in args.configs.split(",")
            ]
        finally:
            redis.stop()
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    run = {
        "settings": args.set,
        "machine": describe(),
        "command": command.strip(),
        "smoke": args.smoke,
        "timing": timing,
        "model_dir": str(model_dir),
        "results": results,
    }
    complete = len(profiles) == len(PROFILES) and not args.set
    run["targets"] = report.targets(results) if complete and not args.smoke else []
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"{stamp}.json").write_text(json.dumps(run, indent=2) + "\n")
    markdown = report.markdown(run)
    (args.out / f"{stamp}.md").write_text(markdown)
    if args.write_results:
        report.write_results(markdown, complete=bool(run["targets"]))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
