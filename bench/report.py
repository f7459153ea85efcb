"""Targets from the performance issue, checked against a run; markdown for humans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import ceiling

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MARK = "<!-- bench:latest -->"

# (profile, key, comparison, bound, label), checked on the `auto` config
TARGETS = [
    ("seed-95", "req_per_s", ">=", 2300, "seed load.js at 95% cache: req/s"),
    ("seed-95", "p99_ms", "<=", 15, "seed load.js at 95% cache: p99 ms"),
    ("seed-50", "req_per_s", ">=", 1400, "seed load.js at 50% cache: req/s"),
    ("seed-50", "p99_ms", "<=", 20, "seed load.js at 50% cache: p99 ms"),
    ("cold", "predict_p99_ms", "<=", 600, "cold: /predict p99 ms"),
    (None, "ready_seconds", "<=", 5, "start to /ready 200 (variant trial included), s"),
    (None, "ready_stored_seconds", "<=", 5, "start to /ready 200 with the stored trial, s"),
    (None, "rss_after_warmup_mb", "<=", 800, "RSS after warm-up, MB"),
]
SERVED_OVER_MODEL = 0.9
COLD_OVER_REFERENCE = 12.0
WORKERS_OVER_IN_PROCESS = 0.95  # the process boundary may cost at most 5%
BOUNDARY = [("cold", "sentences_per_s"), ("seed-95", "req_per_s"), ("seed-50", "req_per_s")]


PROFILES = ("seed-95", "seed-50", "cold", "cold-sst2")


def _padding(result: dict[str, Any]) -> str:
    fraction = result.get("padding_fraction")
    return "—" if fraction is None else f"{fraction:.1%} ({result['padding_source']})"


def _row(label: str, value: float, op: str, bound: float) -> dict[str, Any]:
    met = value >= bound if op == ">=" else value <= bound
    return {"target": label, "value": value, "bound": f"{op} {bound}", "met": met}


def _ratio(a: float | None, b: float | None) -> float:
    return round(a / b, 2) if a and b else 0.0


def boundary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worker processes against the same config in-process (`X` vs `X-inprocess`)."""
    by_config = {r["config"]: r for r in results}
    out = []
    for name, result in by_config.items():
        inprocess = by_config.get(f"{name}-inprocess")
        if inprocess is None:
            continue
        for profile, key in BOUNDARY:
            if profile in result and profile in inprocess:
                out.append(
                    _row(
                        f"{profile}: {key}, worker process / in-process ({name})",
                        _ratio(result[profile][key], inprocess[profile][key]),
                        ">=",
                        WORKERS_OVER_IN_PROCESS,
                    )
                )
    return out


def targets(
    results: list[dict[str, Any]],
    variants: dict[str, Any],
    roofline: dict[str, Any] | None = None,
    fidelity: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    by_config = {r["config"]: r for r in results}
    auto = by_config.get("auto")
    out = boundary(results)
    if auto is None or "cold" not in auto or "seed-95" not in auto:
        return out
    for profile, key, op, bound, label in TARGETS:
        out.append(_row(label, auto[profile][key] if profile else auto[key], op, bound))
    chosen = auto["variant"]
    trial = {t["variant"]: t for t in auto["selection"]["trials"]}.get(chosen, {})
    out.append(
        {
            "target": f"served variant ({chosen}) faithful in its start-up trial",
            "value": trial.get("fidelity", {}).get("p99_diff", "reused"),
            "bound": "agreement >= 0.995, p99 <= 0.02, batch <= 0.01",
            "met": bool(trial.get("faithful", auto["selection"].get("reused"))),
        }
    )
    cold = auto["cold"]["sentences_per_s"]
    model = variants.get(chosen, {}).get("sentences_per_s")
    out.append(
        _row(
            f"cold: served / model-only ({chosen})",
            _ratio(cold, model),
            ">=",
            SERVED_OVER_MODEL,
        )
    )
    reference = by_config.get("reference")
    if reference is not None:
        ref_cold = reference["cold"]["sentences_per_s"]
        out.append(
            _row(
                "cold: sentences/s over the reference design",
                _ratio(cold, ref_cold),
                ">=",
                COLD_OVER_REFERENCE,
            )
        )
    out += _real_text(auto, reference, variants.get(chosen, {}), roofline, fidelity)
    return out


def _real_text(
    auto: dict[str, Any],
    reference: dict[str, Any] | None,
    model: dict[str, Any],
    roofline: dict[str, Any] | None,
    fidelity: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The cold targets on real text, and whether any faithful variant's GEMM ceiling could
    reach the ratio to the reference design at all."""
    real = auto.get("cold-sst2")
    if real is None:
        return []
    served = real["sentences_per_s"]
    alone = model.get("real_text", {}).get("sentences_per_s")
    rows = [
        _row(
            f"cold-sst2: served / model-only on real text ({auto['variant']})",
            _ratio(served, alone),
            ">=",
            SERVED_OVER_MODEL,
        )
    ]
    ref = (reference or {}).get("cold-sst2", {}).get("sentences_per_s")
    if not ref:
        return rows
    rows.append(
        _row(
            "cold-sst2: sentences/s over the reference design",
            _ratio(served, ref),
            ">=",
            COLD_OVER_REFERENCE,
        )
    )
    faithful = [n for n, f in (fidelity or {}).items() if f.get("faithful")]
    ceilings = {
        name: row["ceiling_sentences_per_s"]
        for name, row in (roofline or {}).get("variants", {}).items()
        if name in faithful and row.get("ceiling_sentences_per_s")
    }
    if ceilings:
        best = max(ceilings, key=ceilings.__getitem__)
        rows.append(
            _row(
                f"cold-sst2: GEMM ceiling of the fastest faithful variant ({best}) over the "
                "reference design",
                _ratio(ceilings[best], ref),
                ">=",
                COLD_OVER_REFERENCE,
            )
        )
    return rows


def _variant_rows(run: dict[str, Any]) -> list[str]:
    fidelity = run.get("fidelity") or {}
    lines = [
        "",
        "Every variant alone (model-only, full-size DistilBERT)"
        + (f"; fidelity on `{run['fidelity_model']}`:" if fidelity else ":"),
        "",
        "| variant | sentences/s (batch 64) | batch 1 | real text sentences/s | real tokens/s "
        "| of ceiling | agreement | p99 diff | max diff | alone vs batch | faithful |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ceilings = (run.get("roofline") or {}).get("variants", {})
    for name, speed in run["model_only"].items():
        f = fidelity.get(name, {})
        if "skipped" in speed:
            lines.append(f"| {name} | skipped: {speed['skipped']} | | | | | | | | | |")
            continue
        real = speed.get("real_text", {})
        text = [
            str(real.get("sentences_per_s", "—")),
            str(real.get("tokens_per_s", "—")),
            str(ceilings.get(name, {}).get("of_ceiling", "—")),
        ]
        cells = (
            [str(f.get(k, "—")) for k in ("agreement", "p99_diff", "max_diff", "batch_diff")]
            + ["yes" if f.get("faithful") else ("**no**" if f else "—")]
            if f and "skipped" not in f
            else ["—"] * 5
        )
        lines.append(
            f"| {name} | {speed['sentences_per_s']} | {speed['batch1_sentences_per_s']} | "
            + " | ".join(text + cells)
            + " |"
        )
    for result in run["results"]:
        selection = result.get("selection")
        if not selection:
            continue
        trials = ", ".join(
            f"{t['variant']} {t['sentences_per_s']}/s "
            + ("faithful" if t["faithful"] else f"rejected {t['fidelity']}")
            if not t.get("skipped")
            else f"{t['variant']} skipped ({t['skipped']})"
            for t in selection["trials"]
        )
        lines += [
            "",
            f"`{result['config']}` served **{result['variant']}** on CPU flags "
            f"{', '.join(selection['cpu'])}; start-up trial ({selection.get('seconds', 0)} s): "
            f"{trials or 'fixed variant'}.",
        ]
    return lines


def markdown(run: dict[str, Any]) -> str:
    machine = run["machine"]
    lines = [
        f"### {machine['date']} · commit `{machine['commit']}`"
        + (" · smoke" if run["smoke"] else ""),
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu']} "
        f"({', '.join(machine.get('cpu_flags', []))}); Python {machine['python']}, "
        f"onnxruntime {machine['onnxruntime']}, torch {machine['torch']}. k6 on the same "
        f"machine: {run['timing']['VUS']} VUs, ramp {run['timing']['RAMP_UP']}, hold "
        f"{run['timing']['HOLD']}, ramp down {run['timing']['RAMP_DOWN']}.",
        "",
        f"Command: `{run['command']}`"
        + (f" (service settings: {run['settings']})" if run.get("settings") else ""),
        "",
        *(
            [
                f"`auto` candidates: those faithful on the trained model: "
                f"`{run['auto_variants']}`.",
                "",
            ]
            if run.get("auto_variants")
            else []
        ),
        "| config | variant | profile | req/s | p50 ms | p99 ms | /predict p99 ms "
        "| sentences/s | tokens/s | padding | failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in run["results"]:
        for profile in PROFILES:
            if profile not in result:
                continue
            r = result[profile]
            lines.append(
                f"| {result['config']} | {result.get('variant', 'pipeline fp32')} | {profile} | "
                f"{r['req_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['predict_p99_ms']} | "
                f"{r['sentences_per_s'] or '—'} | {r.get('tokens_per_s') or '—'} | "
                f"{_padding(r)} | {r['failed_rate']:.2%} |"
            )
    lines += [
        "",
        "| config | ready s | ready s, stored trial | RSS after warm-up MB | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for result in run["results"]:
        lines.append(
            f"| {result['config']} | {result['ready_seconds']} | "
            f"{result.get('ready_stored_seconds', '—')} | "
            f"{result['rss_after_warmup_mb']} | {result['peak_rss_mb']} |"
        )
    if run.get("sentences"):
        lines += [
            "",
            f"cold-sst2 and real text: {run['sentences']['count']} sentences, "
            f"{run['sentences']['source']}. Tokens: the served tokenizer's, special tokens in, "
            "no padding. Padding: share of padded tokens in the forward passes, counted by GET "
            "/stats (served) or replayed at the profile's mean batch size (bench/served.py).",
        ]
    lines += _variant_rows(run)
    if run.get("roofline"):
        lines += ceiling.table(run["roofline"])
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


IMAGE_MARK = "<!-- bench:image -->"
IMAGE_HEADER = (
    "## Shipped image\n\n`python -m bench --image`: the image the bundle deploys, with a "
    "trained model baked in, played from the prod overlay, beside the venv's configs on the "
    "same model in the same run (bench/image.py).\n\n"
)


def _with_section(marker: str, header: str) -> str:
    """bench/RESULTS.md's text, with `header` and `marker` added at the end where missing."""
    text = RESULTS.read_text() if RESULTS.is_file() else f"# Benchmark results\n\n{MARK}\n"
    return text if marker in text else text.rstrip() + f"\n\n{header}{marker}\n"


def _insert(text: str, marker: str, section: str) -> None:
    head, _, rest = text.partition(marker)
    RESULTS.write_text(f"{head}{marker}\n\n{section}\n{rest.lstrip()}")


def write_results(section: str, *, complete: bool) -> None:
    """Full runs go on top of bench/RESULTS.md; partial and A/B runs in their own section."""
    _insert(_with_section(AB_MARK, AB_HEADER), MARK if complete else AB_MARK, section)


def write_shipped(section: str) -> None:
    """`--image` runs: the "Shipped image" section of bench/RESULTS.md."""
    _insert(_with_section(IMAGE_MARK, IMAGE_HEADER), IMAGE_MARK, section)
