"""`python -m bench.profile`: where the served time goes under the cold-sst2 load, in one run.

One variant is served (`python -m mlapi`, its model in a worker process) on the benchmark's
full-size model while bench/cold.js sends real SST-2 sentences, as `python -m bench` does for
its cold-sst2 profile. Meanwhile:

- every process's CPU seconds over the k6 run are read from /proc (the server, its workers,
  Redis) and from k6's and py-spy's own rusage: on a 2-CPU machine k6 takes its share of the
  CPUs the model would otherwise have, and the table says how much;
- `py-spy record --native --subprocesses` samples the server and its workers during the hold;
  its raw stacks (flamegraph.pl or speedscope input) are summed into shares by where the time
  goes (`CATEGORIES`: the model's forward pass, tokenization, HTTP, JSON, the batcher, IPC...).

Then the served process is stopped and the same variant runs alone on the same sentences
(`bench.modelonly.real_text`), so the run ends with the "served over model-only" figure that
bench/report.py computes (served sentences/s over the whole k6 run, ramps included).

    .venv/bin/python -m bench.profile --variant torch-bf16

writes bench/out/profile-<stamp>.{md,json} and, unless `--no-spy`, profile-<stamp>.stacks.txt;
`--write-results` adds the table to bench/RESULTS.md's A/B runs. `--no-spy` measures the
figures without the sampler's own cost.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.fidelity import SST2
from bench.machine import describe
from bench.model import full_size_model
from bench.modelonly import real_text
from bench.report import write_results
from bench.served import model_stats
from bench.sst2 import real_sentences
from harness.servers import MlapiProcess, RedisServer, _children, find_binary
from mlapi.runtime import load_classifier
from mlapi.settings import Settings

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
REAL_MIX = 5000  # as `python -m bench`: the model-only step runs the first 5000 sentences
PER_REQUEST = 10  # bench/cold.js
TICK = os.sysconf("SC_CLK_TCK")
SPY = Path(sys.executable).parent / "py-spy"

# A sample's share goes to the first category that one of its frames (leaf first) matches.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("garbage collection", r"gc_collect"),
        ("socket sends (answers, Redis commands)", r"sock_send|^send \(libc"),
        ("thread hops (asyncio.to_thread)", r"ThreadPoolExecutor.submit|sem_post"),
        ("model forward (torch/onnxruntime)", r"libtorch|onnxruntime|libgomp|mkl|dnnl|forward \("),
        ("tokenization", r"tokenizers|tokenize|mlapi/runtime/truncation"),
        ("IPC to workers (pickle, frames, pipes)", r"mlapi/workers/|pickle"),
        ("JSON and pydantic", r"orjson|pydantic|json/|_json"),
        ("cache", r"mlapi/cache/|redis"),
        ("metrics", r"prometheus|mlapi/observability/"),
        ("batcher", r"mlapi/serving/batcher"),
        ("mlapi request path (routes, codecs, dataplane)", r"mlapi/(http|protocols|serving)/"),
        ("HTTP server (uvicorn, httptools, starlette)", r"uvicorn|h11|httptools|starlette|fastapi"),
        ("event loop (asyncio, selectors, sockets)", r"asyncio|selectors|uvloop|epoll|socket"),
    ]
]
OTHER = "other (interpreter, libc)"
WAITING = "waiting (epoll, locks, pipes)"
WAITING_FRAMES = re.compile(r"EpollSelector.select|PyThread_acquire_lock_timed|SimpleQueue_get")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_rusage(proc: subprocess.Popen[bytes]) -> float:
    """Waits for a child; its CPU seconds (all threads)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def summarize(stacks: Path) -> dict[str, dict[str, int]]:
    """Samples per process (the innermost `process` frame py-spy writes with
    `--subprocesses`) and per category, most first. py-spy's idle detection misses threads
    parked in epoll or on a lock under `--native`: those samples are counted as `WAITING`."""
    per: dict[str, Counter[str]] = {}
    for line in stacks.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        parts = frames.split(";")
        roots = [frame for frame in parts if frame.startswith("process ")]
        process = "worker" if roots and "workers.child" in roots[-1] else "server"
        if any(WAITING_FRAMES.search(frame) for frame in parts[-4:]):
            category = WAITING
        else:
            category = next(
                (
                    name
                    for frame in reversed(parts)
                    for name, pattern in CATEGORIES
                    if pattern.search(frame)
                ),
                OTHER,
            )
        per.setdefault(process, Counter())[category] += int(count)
    return {process: dict(counts.most_common()) for process, counts in sorted(per.items())}


def k6_command(base_url: str, sentences: Path, summary: Path, timing: dict[str, str]) -> list[str]:
    variables = {
        "BASE_URL": base_url,
        "SENTENCES": str(sentences),
        "SUMMARY": str(summary),
        "P99_MS": "60000",
        **timing,
    }
    command = [find_binary("k6"), "run", "--no-color", "--quiet"]
    for key, value in variables.items():
        command += ["-e", f"{key}={value}"]
    return [*command, str(HERE / "cold.js")]


def seconds_of(duration: str) -> float:
    return float(duration.removesuffix("s"))


def served(
    args: argparse.Namespace, model_dir: Path, sentences: Path, workdir: Path, stamp: str
) -> dict[str, Any]:
    """The cold-sst2 load on one served variant: throughput, CPU by process, py-spy stacks."""
    redis = RedisServer(find_binary("redis-server"), workdir)
    redis.start()
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_REDIS_URL": redis.url,
        "MLAPI_VARIANT": args.variant,
        "MLAPI_TRIAL_DIR": str(workdir / "trials"),
        "MLAPI_LOG_LEVEL": "WARNING",
        **dict(item.split("=", 1) for item in args.set),
    }
    service = MlapiProcess(env, workdir / "mlapi.log")
    timing = {"VUS": args.vus, "RAMP_UP": "3s", "HOLD": args.hold, "RAMP_DOWN": "1s"}
    stacks = args.out / f"profile-{stamp}.stacks.txt"
    k6: subprocess.Popen[bytes] | None = None
    try:
        service.start(timeout=300)
        assert service.process is not None
        server = service.process.pid
        workers = _children(server)
        redis_pid = redis.process.pid if redis.process is not None else None
        before_stats = model_stats(service.url)
        pids = [server, *workers, *([redis_pid] if redis_pid else [])]
        before = {pid: cpu_seconds(pid) for pid in pids}
        summary = workdir / "k6.json"
        started = time.perf_counter()
        k6 = subprocess.Popen(
            k6_command(service.url, sentences, summary, timing),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
        )
        spy_cpu = 0.0
        hold = int(seconds_of(args.hold)) - 1  # the window inside the hold that is sampled
        time.sleep(seconds_of(timing["RAMP_UP"]))
        hold_from, hold_started = model_stats(service.url), time.perf_counter()
        if args.no_spy:
            time.sleep(hold)
        else:
            spy = subprocess.Popen(
                [
                    str(SPY),
                    "record",
                    "--pid",
                    str(server),
                    "--subprocesses",
                    "--native",
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(hold),
                    "--format",
                    "raw",
                    "--output",
                    str(stacks),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            spy_cpu = wait_rusage(spy)
        hold_to, hold_seconds = model_stats(service.url), time.perf_counter() - hold_started
        k6_cpu = wait_rusage(k6)
        wall = time.perf_counter() - started
        after = {pid: cpu_seconds(pid) for pid in pids}
        after_stats = model_stats(service.url)
    finally:
        if k6 is not None and k6.returncode is None:  # failed half-way: no k6 left behind
            k6.kill()
            k6.wait()
        service.stop()
        redis.stop()
    data = json.loads(summary.read_text())
    seconds = data["state"]["testRunDurationMs"] / 1000
    predicts = data["metrics"]["iterations"]["values"]["count"]
    used = {
        "server (event loop)": after[server] - before[server],
        "model worker(s)": sum(after[p] - before[p] for p in workers),
        "k6": k6_cpu,
        "redis": (after[redis_pid] - before[redis_pid]) if redis_pid else 0.0,
        "py-spy": spy_cpu,
    }
    capacity = wall * (os.cpu_count() or 1)
    out: dict[str, Any] = {
        "k6_exit": k6.returncode if k6 is not None else None,
        "seconds": round(seconds, 1),
        "predicts": predicts,
        "sentences_per_s": round(predicts * PER_REQUEST / seconds, 1),
        "failed_rate": data["metrics"]["http_req_failed"]["values"]["rate"],
        "predict_p99_ms": round(
            data["metrics"]["http_req_duration{name:predict}"]["values"]["p(99)"], 2
        ),
        "wall_s": round(wall, 1),
        "cpu_seconds": {k: round(v, 2) for k, v in used.items()},
        "cpu_share": {k: round(v / capacity, 4) for k, v in used.items()},
        "idle_share": round(1 - sum(used.values()) / capacity, 4),
        "cpu_ms_per_predict": {k: round(v * 1000 / max(1, predicts), 2) for k, v in used.items()},
    }
    if before_stats and after_stats and after_stats["batches"] > before_stats["batches"]:
        batches = after_stats["batches"] - before_stats["batches"]
        items = (
            after_stats["mean_batch_size"] * after_stats["batches"]
            - before_stats["mean_batch_size"] * before_stats["batches"]
        )
        out["batches"] = batches
        out["mean_batch_size"] = round(items / batches, 2)
        out["inference_s"] = round(after_stats["inference_s"] - before_stats["inference_s"], 2)
    if hold_from and hold_to:  # the same figure without the ramps: what they cost
        out["hold_sentences_per_s"] = round(
            (hold_to["items"] - hold_from["items"]) / hold_seconds, 1
        )
    if not args.no_spy and stacks.is_file():
        out["stacks"] = str(stacks)
        out["samples"] = summarize(stacks)
    return out


def decompose(
    load: dict[str, Any], alone: dict[str, Any], at_batch: dict[str, Any]
) -> dict[str, float] | None:
    """served / model-only as a product of factors: the worker's busy share of the run, the
    batch size (model-only at the served mean batch over model-only at the full batch), and
    what is left: the speed of a served batch over the same batch alone (CPU shared with the
    server and k6, IPC inside the batch's time)."""
    if not load.get("inference_s"):
        return None
    busy = load["inference_s"] / load["seconds"]
    while_busy = load["predicts"] * PER_REQUEST / load["inference_s"]
    batch = at_batch["sentences_per_s"] / alone["sentences_per_s"]
    return {
        "worker_busy_share": round(busy, 4),
        "batch_size_factor": round(batch, 4),
        "served_batch_over_alone": round(while_busy / at_batch["sentences_per_s"], 4),
        "model_only_at_served_batch": at_batch["sentences_per_s"],
    }


def markdown(run: dict[str, Any]) -> str:
    s = run["served"]
    lines = [
        f"### Served over model-only: {run['variant']} on cold-sst2 · "
        f"{run['machine'].get('date', '?')} · commit `{run['machine'].get('commit', '?')}`",
        "",
        f"Command: `{run['command']}`; CPU {run['machine'].get('cpu', '?')}, "
        f"{os.cpu_count()} CPUs; k6 {run['vus']} VUs, hold {run['hold']}.",
        "",
        f"- served: {s['sentences_per_s']} sentences/s over {s['seconds']} s "
        f"(ramps included, as bench/report.py), /predict p99 {s['predict_p99_ms']} ms, "
        f"failed {s['failed_rate']:.2%}, mean batch {s.get('mean_batch_size')}",
        f"- served during the hold alone (no ramps; GET /stats items): "
        f"{s.get('hold_sentences_per_s')} sentences/s",
        f"- model-only on the same sentences: {run['model_only']['sentences_per_s']} sentences/s",
        f"- **served / model-only: {run['ratio']}**"
        + ("" if run["no_spy"] else " (py-spy running: use `--no-spy` for the figure)"),
        f"- served time in the model's forward passes: {s.get('inference_s')} s of "
        f"{s['wall_s']} s wall",
    ]
    parts = run["decomposition"]
    if parts:
        lines += [
            f"- served / model-only = worker busy {parts['worker_busy_share']} x batch size "
            f"{parts['batch_size_factor']} (model-only at the served mean batch: "
            f"{parts['model_only_at_served_batch']}/s) x a served batch's speed over the same "
            f"batch alone {parts['served_batch_over_alone']}",
        ]
    lines += [
        "",
        "| process | CPU s | share of all CPUs over the run | CPU ms per /predict |",
        "|---|---|---|---|",
    ]
    for name, used in s["cpu_seconds"].items():
        share, per = s["cpu_share"][name], s["cpu_ms_per_predict"][name]
        lines.append(f"| {name} | {used} | {share:.1%} | {per} |")
    lines.append(f"| other processes, idle | | {s['idle_share']:.1%} | |")
    cpu = {"server": s["cpu_seconds"]["server (event loop)"]}
    cpu["worker"] = s["cpu_seconds"]["model worker(s)"]
    for process, counts in s.get("samples", {}).items():
        busy = sum(n for name, n in counts.items() if name != WAITING) or 1
        lines += [
            "",
            f"Where the {process}'s CPU goes (py-spy samples while not waiting; CPU s: the "
            f"share times the {process}'s {cpu[process]} CPU s over the run):",
            "",
            "| where | share | CPU s |",
            "|---|---|---|",
        ]
        lines += [
            f"| {name} | {n / busy:.1%} | {n / busy * cpu[process]:.2f} |"
            for name, n in counts.items()
            if name != WAITING
        ]
    if "stacks" in s:
        lines += ["", f"Raw stacks (flamegraph.pl / speedscope input): `{s['stacks']}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--variant", default="torch-bf16", help="MLAPI_VARIANT served")
    parser.add_argument("--model", type=Path, help="model folder (default: bench.model's)")
    parser.add_argument("--hold", default="30s", help="k6 hold at full load")
    parser.add_argument("--vus", default="10")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--model-only-seconds", type=float, default=10.0)
    parser.add_argument("--no-spy", action="store_true", help="no sampler: the clean figure")
    parser.add_argument("--set", action="append", default=[], metavar="MLAPI_X=VALUE")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--write-results", action="store_true", help="add to RESULTS.md's A/B runs")
    args = parser.parse_args(argv)
    if not args.no_spy and not SPY.is_file():
        parser.error(f"{SPY} not found: .venv/bin/pip install -e '.[bench]', or run with --no-spy")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    model_dir = args.model or full_size_model()
    sentences = real_sentences(SST2, smoke=False)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = sentences.write(workdir / "sentences.json")
        logging.info("served %s under cold-sst2", args.variant)
        load = served(args, model_dir, path, workdir, stamp)
    logging.info("model-only %s", args.variant)
    settings = Settings.model_validate({"variant": args.variant, "trial_dir": None})
    model = load_classifier(settings, model_dir)
    mix = sentences.texts[:REAL_MIX]
    try:
        alone = real_text(model, mix, settings.max_batch_size, args.model_only_seconds)
        served_batch = round(load.get("mean_batch_size") or 0)
        at_batch = (
            real_text(model, mix, served_batch, args.model_only_seconds)
            if 0 < served_batch < settings.max_batch_size
            else alone
        )
    finally:
        model.close()
    run = {
        "command": "python -m bench.profile "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": describe(),
        "variant": args.variant,
        "vus": args.vus,
        "hold": args.hold,
        "no_spy": args.no_spy,
        "served": load,
        "model_only": alone,
        "ratio": round(load["sentences_per_s"] / alone["sentences_per_s"], 3),
        "decomposition": decompose(load, alone, at_batch),
    }
    (args.out / f"profile-{stamp}.json").write_text(json.dumps(run, indent=2))
    text = markdown(run)
    (args.out / f"profile-{stamp}.md").write_text(text)
    if args.write_results:
        write_results(text, complete=False)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
