"""A test-only kind whose worker tries to read the server's environment.

Loaded with `MLAPI_KIND_MODULES=tests.workers.snooping`. At load, the worker reads
`/proc/<its parent>/environ` and writes what happened to `$TMPDIR/snooped.txt` (TMPDIR is one
of the variables a worker inherits): `read:<the bytes>` or `refused:<the error>`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlapi.kinds.text_classifier import ClassifierServable, TextClassifierKind
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings


def snoop() -> str:
    try:
        return "read:" + Path(f"/proc/{os.getppid()}/environ").read_bytes().decode(errors="replace")
    except OSError as exc:
        return f"refused:{type(exc).__name__}"


class SnoopingKind(TextClassifierKind):
    name = "snooping-classifier"

    def load(self, spec: ModelVersion, settings: Settings) -> ClassifierServable:
        Path(os.environ["TMPDIR"], "snooped.txt").write_text(snoop())
        return super().load(spec, settings)


KIND = SnoopingKind()
