"""A test-only kind: the real text classifier, plus texts that kill or stall its worker.

Loaded with `MLAPI_KIND_MODULES=tests.workers.crashing`; the package itself has no such hook.
"""

from __future__ import annotations

import os
import signal
import time

from mlapi.kinds.text_classifier import ClassifierServable, TextClassifierKind
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings

POISON = "this text kills the worker"
SLOW = "slow:"  # a text starting with this holds its batch for 0.6 s
BROKEN = "this text raises in the model"


def _misbehave(keys: list[str]) -> None:
    if POISON in keys:
        os.kill(os.getpid(), signal.SIGKILL)
    if BROKEN in keys:
        raise RuntimeError("the model failed on this batch")
    if any(k.startswith(SLOW) for k in keys):
        time.sleep(0.6)  # a slow batch: the behaviour under test


class CrashingServable(ClassifierServable):
    def run(self, keys: list[str]) -> list[bytes]:
        _misbehave(keys)
        return super().run(keys)

    def run_tokens(self, keys: list[str], tokens: list[list[int]]) -> list[bytes]:
        _misbehave(keys)
        return super().run_tokens(keys, tokens)


class CrashingKind(TextClassifierKind):
    name = "crashing-classifier"

    def load(self, spec: ModelVersion, settings: Settings) -> CrashingServable:
        servable = super().load(spec, settings)
        return CrashingServable(servable.classifier, servable.version)


KIND = CrashingKind()
