"""A tiny model trained until its outputs are confident, with its exports, built natively.

The build runs in a child process: under `as-cpu haswell` only the test process is emulated,
so the training runs at native speed while every answer checked here comes from emulated
kernels.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Exported as the trainer does: judged on held-out sentences of its own kind (seed 99).
BUILD = (
    "import sys; from pathlib import Path; "
    "from mlapi.tools.synthetic import sentiment_sentences, trained_tiny_distilbert; "
    "from mlapi.tools.export import export; "
    "held_out = [text for text, _ in sentiment_sentences(300, seed=99)]; "
    "export(trained_tiny_distilbert(Path(sys.argv[1])), sentences=held_out)"
)


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "tiny-sentiment"
    subprocess.run([sys.executable, "-c", BUILD, str(out)], check=True, capture_output=True)
    return out
