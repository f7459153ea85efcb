"""Targets from the performance issue, checked against a run; markdown for humans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MARK = "<!-- bench:latest -->"

# (profile, key, comparison, bound, label)
TARGETS = [
    ("seed-95", "req_per_s", ">=", 2300, "seed load.js at 95% cache: req/s"),
    ("seed-95", "p99_ms", "<=", 15, "seed load.js at 95% cache: p99 ms"),
    ("seed-50", "req_per_s", ">=", 1400, "seed load.js at 50% cache: req/s"),
    ("seed-50", "p99_ms", "<=", 20, "seed load.js at 50% cache: p99 ms"),
    ("cold", "sentences_per_s", ">=", 350, "cold: sentences/s (onnx int8)"),
    ("cold", "predict_p99_ms", "<=", 600, "cold: /predict p99 ms"),
    (None, "ready_seconds", "<=", 5, "start to /ready 200, s (onnx)"),
    (None, "rss_after_warmup_mb", "<=", 800, "RSS after warm-up, MB"),
]


def _check(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value <= bound


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for result in results:
        if result["config"] != "onnx-int8":
            continue
        for profile, key, op, bound, label in TARGETS:
            value = result[profile][key] if profile else result[key]
            out.append(
                {
                    "target": label,
                    "value": value,
                    "bound": f"{op} {bound}",
                    "met": _check(value, op, bound),
                }
            )
        cold, model = result["cold"]["sentences_per_s"], result["model_only"]["sentences_per_s"]
        ratio = round(cold / model, 2) if model else 0.0
        out.append(
            {
                "target": "cold: served / model-only throughput",
                "value": ratio,
                "bound": ">= 0.8",
                "met": ratio >= 0.8,
            }
        )
    return out


def markdown(run: dict[str, Any]) -> str:
    machine = run["machine"]
    lines = [
        f"### {machine['date']} · commit `{machine['commit']}`"
        + (" · smoke" if run["smoke"] else ""),
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu']}; Python {machine['python']}, "
        f"onnxruntime {machine['onnxruntime']}, torch {machine['torch']}. k6 on the same "
        f"machine: {run['timing']['VUS']} VUs, ramp {run['timing']['RAMP_UP']}, hold "
        f"{run['timing']['HOLD']}, ramp down {run['timing']['RAMP_DOWN']}.",
        "",
        f"Command: `{run['command']}`"
        + (f" (service settings: {run['settings']})" if run.get("settings") else ""),
        "",
        "| config | profile | req/s | p50 ms | p99 ms | /predict p99 ms | sentences/s | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in run["results"]:
        for profile in ("seed-95", "seed-50", "cold"):
            if profile not in result:
                continue
            r = result[profile]
            lines.append(
                f"| {result['config']} | {profile} | {r['req_per_s']} | {r['p50_ms']} | "
                f"{r['p99_ms']} | {r['predict_p99_ms']} | {r['sentences_per_s'] or '—'} | "
                f"{r['failed_rate']:.2%} |"
            )
    lines += [
        "",
        "| config | ready s | RSS after warm-up MB | peak RSS MB | model-only "
        "sentences/s (batch) | model-only batch 1 |",
        "|---|---|---|---|---|---|",
    ]
    for result in run["results"]:
        model = result["model_only"]
        lines.append(
            f"| {result['config']} | {result['ready_seconds']} | "
            f"{result['rss_after_warmup_mb']} | {result['peak_rss_mb']} | "
            f"{model['sentences_per_s']} ({model['batch_size']}) | "
            f"{model['batch1_sentences_per_s']} |"
        )
    if run["targets"]:
        lines += ["", "| target | measured | bound | met |", "|---|---|---|---|"]
        lines += [
            f"| {t['target']} | {t['value']} | {t['bound']} | {'yes' if t['met'] else '**no**'} |"
            for t in run["targets"]
        ]
    return "\n".join(lines) + "\n"


AB_MARK = "<!-- bench:ab -->"
AB_HEADER = (
    "## Partial and A/B runs\n\nOne profile or one changed setting (`--profiles`, `--set`), "
    "for the comparisons quoted in the README; no targets are checked on them.\n\n"
)


def write_results(section: str, *, complete: bool) -> None:
    """Full runs go on top of bench/RESULTS.md; partial and A/B runs in their own section."""
    text = RESULTS.read_text() if RESULTS.is_file() else f"# Benchmark results\n\n{MARK}\n"
    if AB_MARK not in text:
        text = text.rstrip() + f"\n\n{AB_HEADER}{AB_MARK}\n"
    marker = MARK if complete else AB_MARK
    head, _, rest = text.partition(marker)
    RESULTS.write_text(f"{head}{marker}\n\n{section}\n{rest.lstrip()}")
