"""A worker process imports only what running a model needs: no web framework."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import mlapi.workers.child
from mlapi.kinds import discover
from mlapi.workers.child import serve  # noqa: F401

kinds = discover()
assert {"text-classifier", "embedding", "tabular"} <= set(kinds), sorted(kinds)
print(",".join(sorted(m for m in ("fastapi", "starlette") if m in sys.modules)))
"""


def test_worker_child_and_kinds_import_neither_fastapi_nor_starlette() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"a worker process imported {done.stdout.strip()}"
