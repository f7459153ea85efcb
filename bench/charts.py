"""`python -m bench.charts`: the performance page's charts, drawn from bench/RESULTS.md.

For each CPU kind, the newest run that measured all three profiles (seed load.js at 95% and
50% cache, cold): requests/s of the cached profiles and sentences/s of the cold one, per
configuration, as bars. Writes docs/img/bench-<cpu>.png.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("seed-95", "seed-50", "cold")
# RESULTS.md's name for the earlier service the benchmark compares with.
LABELS = {"reference": "baseline (earlier service)"}


@dataclass
class Run:
    title: str
    cpu: str
    rows: list[dict[str, str]] = field(default_factory=list)

    def value(self, config: str, profile: str, column: str) -> float | None:
        for row in self.rows:
            if row.get("config") == config and row.get("profile") == profile:
                try:
                    return float(row[column])
                except (KeyError, ValueError):
                    return None
        return None

    @property
    def configs(self) -> list[str]:
        return list(dict.fromkeys(row["config"] for row in self.rows))

    def complete(self) -> bool:
        return {row["profile"] for row in self.rows} >= set(PROFILES)


def cpu_kind(machine: str) -> str:
    name = re.sub(r"\(R\)|Processor", "", machine.split("CPUs,", 1)[-1])
    return re.split(r"[(;]", name, maxsplit=1)[0].strip() or "unknown"


def parse(text: str) -> list[Run]:
    """Every run of RESULTS.md with its first table (config, profile, req/s, sentences/s)."""
    runs: list[Run] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("### "):
            runs.append(Run(title=re.sub(r"\s*·.*", "", line[4:]).strip(), cpu="unknown"))
            header = None
        elif runs and line.startswith("Machine:"):
            runs[-1].cpu = cpu_kind(line)
        elif runs and line.startswith("| config |") and "profile" in line and not runs[-1].rows:
            header = [cell.strip() for cell in line.strip("|").split("|")]
        elif header is not None and line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            runs[-1].rows.append(dict(zip(header, cells, strict=False)))
        elif header is not None and not line.startswith("|"):
            header = None
    return runs


def latest_per_cpu(runs: list[Run]) -> dict[str, Run]:
    latest: dict[str, Run] = {}
    for run in runs:  # newest first in RESULTS.md
        if run.complete() and run.cpu not in latest:
            latest[run.cpu] = run
    return latest


def slug(cpu: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-")


def draw(run: Run, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = run.configs
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / max(1, len(configs))
    for i, config in enumerate(configs):
        cached = [run.value(config, p, "req/s") or 0.0 for p in PROFILES[:2]]
        cold = run.value(config, "cold", "sentences/s") or 0.0
        xs = [x + i * width for x in range(2)]
        bars = axes[0].bar(xs, cached, width, label=LABELS.get(config, config))
        axes[0].bar_label(bars, fmt="%.0f", fontsize=8)
        bars = axes[1].bar([i * width], [cold], width, label=LABELS.get(config, config))
        axes[1].bar_label(bars, fmt="%.1f", fontsize=8)
    axes[0].set_xticks([x + width * (len(configs) - 1) / 2 for x in range(2)])
    axes[0].set_xticklabels(["load.js, 95% cached", "load.js, 50% cached"])
    axes[0].set_ylabel("requests/s")
    axes[0].set_yscale("log")
    axes[1].set_xticks([width * (len(configs) - 1) / 2])
    axes[1].set_xticklabels(["cold: 10 new sentences/request"])
    axes[1].set_ylabel("sentences/s")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{run.cpu}, 2 CPUs: run of {run.title}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.charts", description=__doc__)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)
    for cpu, run in latest_per_cpu(parse(args.results.read_text())).items():
        print(draw(run, args.out / f"bench-{slug(cpu)}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
