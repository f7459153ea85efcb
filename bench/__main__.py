"""`python -m bench`: mlapi under the seed's k6 load against the reference design, one run.

Writes bench/out/<stamp>.json and .md; `--write-results` also rewrites bench/RESULTS.md.
Every variant is also measured alone (model-only, batch 64 and 1) and, with
`--fidelity-model`, against fp32 on a trained model's held-out sentences; then `auto` may only
choose among the variants faithful there (random weights give flat outputs that hide errors).
`cold-sst2` is the cold profile on real SST-2 sentences (bench/cold.js, bench/sst2.py); the
cold profiles also report tokens/s and the padding fraction (bench/served.py). Every variant
runs alone on those sentences too, against the ceiling of the GEMM rates measured here
(bench/roofline.py).
`--smoke` runs the same steps in seconds on a tiny model (CI keeps it from rotting).
`--image` measures the image the bundle deploys, played from the prod overlay, beside the venv's
`auto` and the reference design on the same trained model (bench/image.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from bench import ceiling, image, k6, report
from bench.configs import CONFIGS, IN_PROCESS, REFERENCE, service_for
from bench.fidelity import SST2
from bench.machine import describe, save
from bench.model import full_size_model
from bench.modelonly import throughput
from bench.served import ColdText, model_stats
from bench.sst2 import real_sentences
from bench.tokens import served_max_length, token_lengths
from harness.servers import RedisServer, find_binary
from mlapi.runtime.base import read_config
from mlapi.runtime.variants import AUTO_CANDIDATES, VARIANTS
from mlapi.settings import Settings

OUT = Path(__file__).resolve().parent / "out"
PROFILES = [
    k6.Profile("seed-95", {"CACHE_RATE": "0.95"}, None),
    k6.Profile("seed-50", {"CACHE_RATE": "0.5"}, None),
    k6.Profile("cold", {"COLD": "1"}, 10),
    k6.Profile("cold-sst2", {}, 10, script="cold.js"),  # SENTENCES: set by main
]
REAL_MIX = 5000  # real sentences in the model-only and roofline mix


def run_config(
    name: str,
    model_dir: Path,
    redis: RedisServer,
    workdir: Path,
    timing: dict[str, str],
    extra_env: dict[str, str],
    profiles: list[k6.Profile],
    cold: ColdText,
) -> dict[str, Any]:
    service = service_for(name, model_dir, redis.url, workdir, extra_env)
    service.start(timeout=300)
    result: dict[str, Any] = {
        "config": name,
        "ready_seconds": round(service.ready_seconds, 2),
        "rss_after_warmup_mb": round(service.memory_kib()["VmRSS"] / 1024),
    }
    if name != REFERENCE:
        card = httpx.get(f"{service.url}/model", timeout=10).json()
        result["variant"] = card["backend"]
        result["selection"] = card["selection"]
    try:
        for profile in profiles:
            redis.flush()
            logging.info("%s: %s", name, profile.name)
            before = model_stats(service.url)
            found = k6.run(service.url, profile, workdir / f"{name}-{profile.name}.json", timing)
            found.update(cold.figures(profile.name, found, before, model_stats(service.url)))
            result[profile.name] = found
        result["peak_rss_mb"] = round(service.memory_kib()["VmHWM"] / 1024)
    finally:
        service.stop()
    if name.removesuffix(IN_PROCESS) == "auto":  # a restart on this node: the stored trial
        again = service_for(name, model_dir, redis.url, workdir, extra_env)
        again.start(timeout=300)
        result["ready_stored_seconds"] = round(again.ready_seconds, 2)
        again.stop()
    return result


def model_only(
    model_dir: Path, seconds: float, extra_env: dict[str, str], real: list[str]
) -> dict[str, Any]:
    """Every variant that can run here, alone: sentences/s at batch 64 and batch 1, and on
    the real sentences (with tokens/s)."""
    out: dict[str, Any] = {}
    for name, variant in VARIANTS.items():
        missing = variant.missing(model_dir)
        if missing is not None:
            out[name] = {"skipped": missing}
            continue
        fields: dict[str, object] = {"variant": name, "trial_dir": None}
        if "MLAPI_THREADS" in extra_env:
            fields["threads"] = int(extra_env["MLAPI_THREADS"])
        logging.info("model-only: %s", name)
        settings = Settings.model_validate(fields)
        out[name] = throughput(settings, model_dir, seconds=seconds, real=real)
    return out


def main(argv: list[str] | None = None, prog: str = "python -m bench") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument(
        "--configs", default="auto,reference", help=f"comma-separated, from {', '.join(CONFIGS)}"
    )
    parser.add_argument("--hold", default="40s", help="k6 hold at full load per profile")
    parser.add_argument("--vus", default="10")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--profiles",
        help=f"comma-separated subset of {', '.join(p.name for p in PROFILES)} (default: all; "
        f"with --image: cold-sst2, and only {', '.join(image.PROFILES)})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MLAPI_X=VALUE",
        help="service setting for an A/B run (repeatable)",
    )
    parser.add_argument(
        "--fidelity-model",
        type=Path,
        help="a trained, exported model folder: every variant against fp32 (bench.fidelity)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model, seconds per profile")
    parser.add_argument(
        "--image",
        action="store_true",
        help="also the image with --fidelity-model baked in, played from the prod overlay",
    )
    parser.add_argument(
        "--image-tag", help="with --image: an image already built so (default: build it here)"
    )
    parser.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    timing = {"VUS": args.vus, "RAMP_UP": "3s", "HOLD": args.hold, "RAMP_DOWN": "1s"}
    extra_env = {"MLAPI_LOG_LEVEL": "WARNING"}
    extra_env.update(item.split("=", 1) for item in args.set)
    image.check_args(parser, args)
    default = "cold-sst2" if args.image else ",".join(p.name for p in PROFILES)
    wanted = (args.profiles or default).split(",")
    profiles = [p for p in PROFILES if p.name in wanted]
    configs = args.configs.split(",")
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; known: {CONFIGS}")
    fidelity = None
    if args.fidelity_model is not None:  # first: `auto` may only pick what is faithful there
        from bench.fidelity import compare, held_out

        logging.info("fidelity on %s", args.fidelity_model)
        fidelity = compare(args.fidelity_model, held_out(SST2, 2000, 42, 872))
        faithful = [n for n in AUTO_CANDIDATES if fidelity.get(n, {}).get("faithful")]
        extra_env.setdefault("MLAPI_AUTO_VARIANTS", ",".join(faithful) or "onnx-fp32")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.smoke:
            from mlapi.tools.export import export
            from mlapi.tools.synthetic import tiny_distilbert

            model_dir = tiny_distilbert(workdir / "tiny")
            export(model_dir)
            timing = {"VUS": "2", "RAMP_UP": "1s", "HOLD": "2s", "RAMP_DOWN": "1s", "TAG": "smoke"}
            extra_env["MLAPI_THREADS"] = "1"
        elif args.image:  # the trained model the image serves
            model_dir = args.fidelity_model
        else:
            model_dir = full_size_model()
        sentences = real_sentences(SST2, smoke=args.smoke)
        path = sentences.write(workdir / "sentences.json")
        profiles = [
            replace(p, env={**p.env, "SENTENCES": str(path)}) if p.script else p for p in profiles
        ]
        served = Settings.model_validate(
            {
                key: extra_env[f"MLAPI_{key.upper()}"]
                for key in ("threads", "max_length", "max_batch_size")
                if f"MLAPI_{key.upper()}" in extra_env
            }
            | {"trial_dir": None}
        )
        max_length = served_max_length(model_dir, served.max_length)
        cold = ColdText(
            model_dir, max_length, served.max_batch_size, sentences.texts, int(timing["VUS"])
        )
        redis = RedisServer(find_binary("redis-server"), workdir)
        redis.start()
        if args.image:
            try:
                shipped = image.measure(
                    model_dir,
                    args.image_tag,
                    configs,
                    profiles,
                    timing,
                    workdir,
                    cold,
                    lambda name, chosen: run_config(
                        name, model_dir, redis, workdir, timing, extra_env, chosen, cold
                    ),
                )
            finally:
                redis.stop()
            return image.publish(shipped, args, argv, timing, extra_env, fidelity)
        try:
            results = [
                run_config(name, model_dir, redis, workdir, timing, extra_env, profiles, cold)
                for name in configs
            ]
        finally:
            redis.stop()
        mix = sentences.texts[:REAL_MIX]
        variants = model_only(model_dir, 2 if args.smoke else 10, extra_env, mix)
        logging.info("roofline")
        ceilings = ceiling.measure(
            ceiling.Encoder.from_config(read_config(model_dir)),
            token_lengths(model_dir, mix, max_length),
            threads=served.threads,
            batch=served.max_batch_size,
            seconds=0.05 if args.smoke else 0.3,
            spin=served.onnx_spin,
            packed=ceiling.packed_variants(read_config(model_dir)),
        )
        ceiling.add_fractions(ceilings, variants)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    run: dict[str, Any] = {
        "settings": args.set,
        "machine": describe(),
        "command": command.strip(),
        "smoke": args.smoke,
        "timing": timing,
        "model_dir": str(model_dir),
        "results": results,
        "model_only": variants,
        "sentences": sentences.describe(),
        "roofline": ceilings,
        "fidelity": fidelity,
        "fidelity_model": str(args.fidelity_model) if args.fidelity_model else None,
        "auto_variants": extra_env.get("MLAPI_AUTO_VARIANTS"),
    }
    complete = len(profiles) == len(PROFILES) and not args.set
    if args.smoke:
        run["targets"] = []
    else:
        run["targets"] = (
            report.targets(results, variants, ceilings, fidelity)
            if complete
            else report.boundary(results)
        )
    markdown = report.markdown(run)
    save(args.out, "", run, markdown)
    if args.write_results:
        report.write_results(markdown, complete=bool(run["targets"]))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
