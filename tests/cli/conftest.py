"""The `mlapi` command, run as a user runs it: a subprocess of this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
Mlapi = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def mlapi(tmp_path: Path) -> Mlapi:
    """`python -m mlapi ARGS` with a clean MLAPI_* environment, in a scratch folder."""

    def run(
        *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("MLAPI_")}
        return subprocess.run(
            [sys.executable, "-m", "mlapi", *args],
            env={**base, **(env or {})},
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
