"""Side-by-side SLO report of stress runs: SLI, error budget spent, verdict; and a plot.

With the seed's design in the run, every row also shows its requests/s over the seed's, and the
report closes with the stress target: mlapi at >= 10x the seed's requests/s with 0 timeouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SEED = "seed-flask"
TARGET_RATIO = 10.0


def budget_spent(sli: float, slo: float) -> float:
    """Share of the error budget (1 - SLO) that the run's failures used; above 1: overspent."""
    return (1 - sli) / (1 - slo) if slo < 1 else float("inf")


def report(run: dict[str, Any]) -> str:
    shape, slo = run["shape"], run["slo"]
    machine = run.get("machine", {})
    lines = [
        f"# Stress test and SLO report ({run['date']})",
        "",
        f"Shape: {shape['threads']} wrk threads, {shape['connections']} connections, "
        f"{shape['duration']}, timeout {shape['timeout']}; SLI = requests answered 2xx within "
        f"{shape['objective_ms']:g} ms, of all sent (timeouts and errors count against it); "
        f"SLO {slo:.1%}. Machine: {machine.get('nproc')} CPUs, {machine.get('cpu')}.",
        "",
        "| config | target | tool | req/s | vs seed | p50 ms | p99 ms | timeouts | socket errors "
        "(connect/read/write) | non-2xx | SLI | error budget spent | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    seed = next((r for r in run["results"] if r["config"] == SEED), None)
    for r in run["results"]:
        sockets = r["socket_errors"]
        socket_cell = (
            "/".join(str(sockets[k]) for k in ("connect", "read", "write")) if sockets else "—"
        )
        spent = budget_spent(r["sli"], slo)
        verdict = "**acceptable**" if r["sli"] >= slo else "not acceptable"
        non_2xx = "—" if r["non_2xx"] is None else r["non_2xx"]
        cells = [
            r["config"],
            r["target"],
            r["tool"],
            r["req_per_s"],
            f"{r['req_per_s'] / seed['req_per_s']:.1f}x" if seed and seed["req_per_s"] else "—",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            r["timeouts"],
            socket_cell,
            non_2xx,
            f"{r['sli']:.2%}",
            f"{spent:.0%}",
            verdict,
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if seed and seed["req_per_s"]:
        lines += ["", *_target_lines(run["results"], seed["req_per_s"])]
    return "\n".join(lines) + "\n"


def _target_lines(results: list[dict[str, Any]], seed_rps: float) -> list[str]:
    """The stress target per mlapi run with the seed's own shape (wrk, one body)."""
    lines = [f"Target: >= {TARGET_RATIO:g}x the seed's requests/s with 0 timeouts."]
    for r in results:
        if r["config"] == SEED or r["tool"] != "wrk":
            continue
        ratio = r["req_per_s"] / seed_rps
        met = ratio >= TARGET_RATIO and r["timeouts"] == 0
        lines.append(
            f"- {r['config']}: {ratio:.1f}x, {r['timeouts']} timeouts: "
            + ("**met**" if met else "not met")
        )
    return lines


def plot(run: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["config"] for r in run["results"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.bar(names, [r["req_per_s"] for r in run["results"]], color="#4a7fb5")
    left.set_ylabel("requests/s")
    left.set_yscale("log")
    right.bar(names, [r["sli"] * 100 for r in run["results"]], color="#5a9e6f")
    right.axhline(run["slo"] * 100, color="#b54a4a", linestyle="--", label=f"SLO {run['slo']:.0%}")
    right.set_ylabel("SLI %")
    right.set_ylim(0, 100)
    right.legend(loc="lower right")
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=30)
    fig.suptitle(f"Stress: {run['shape']['connections']} connections, {run['shape']['duration']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
