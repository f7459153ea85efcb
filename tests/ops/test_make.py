"""`make` as a newcomer meets it: help by default; `make run` installs only what serving needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("make"), "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def target_lines(text: str) -> list[str]:
    """`  name  description` lines (continuation lines are indented further)."""
    return [line for line in text.splitlines() if line.startswith("  ") and line[2] != " "]


def test_the_default_goal_is_help() -> None:
    bare, help_ = make(), make("help")
    assert bare.returncode == 0 and help_.returncode == 0
    assert bare.stdout == help_.stdout
    targets = {line.split()[0] for line in target_lines(help_.stdout)}
    assert {"help", "run", "test", "docs", "docs-config", "install", "lint"} <= targets


def test_every_target_in_help_has_a_description() -> None:
    lines = target_lines(make("help").stdout)
    assert lines and all(len(line.split()) > 1 for line in lines)


def test_run_installs_the_serve_extra_only(tmp_path: Path) -> None:
    venv = tmp_path / "venv"  # never created: -n prints what a fresh checkout would run
    plan = make("-n", "run", f"VENV={venv}")
    assert plan.returncode == 0, plan.stderr
    assert 'bash scripts/pip-install.sh -e ".[serve]"' in plan.stdout  # CPU torch: test_install
    for absent in ("install-deps.sh", "apt-get", "--quiet", "dev]", ",dev"):
        assert absent not in plan.stdout, absent
    assert plan.stdout.rstrip().endswith(f"{venv}/bin/python -m mlapi serve")
