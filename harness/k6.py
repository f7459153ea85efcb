"""Runs the project's load.js with k6 (usage reports off), variables passed with -e."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.servers import find_binary

LOAD_JS = Path(__file__).resolve().parent.parent / "load.js"


def run_load(
    variables: dict[str, str], *, quiet: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`k6 run load.js` with `variables`; k6 exits non-zero when a threshold is crossed."""
    command = [find_binary("k6"), "run", "--no-color", *(["--quiet"] if quiet else [])]
    for key, value in variables.items():
        command += ["-e", f"{key}={value}"]
    return subprocess.run(
        command + [str(LOAD_JS)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
    )
