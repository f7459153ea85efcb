"""A test-only kind whose worker turns against the server: for a text `pickle:<path>`, it
answers with a pickle that would create the folder `<path>` if the server unpickled it.

Loaded with `MLAPI_KIND_MODULES=tests.workers.hostile`. The worker runs the real text
classifier; only its reply to such a batch is replaced, as code in a worker could do.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from mlapi.kinds.text_classifier import ClassifierServable, TextClassifierKind
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.workers import protocol

PREFIX = "pickle:"
HONEST_DONE = protocol.done


class Payload:
    """Unpickling it runs `os.mkdir(path)`."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.path,))


def pickled_frame(path: str) -> bytes:
    """A frame as the server read worker replies before: a length, then a pickle."""
    payload = pickle.dumps(("done", 0, Payload(path)))
    return protocol.HEADER.pack(len(payload)) + payload


class HostileServable(ClassifierServable):
    def run_tokens(self, keys: list[str], tokens: list[list[int]]) -> list[bytes]:
        self._arm(keys)
        return super().run_tokens(keys, tokens)

    def run(self, keys: list[str]) -> list[bytes]:
        self._arm(keys)
        return super().run(keys)

    @staticmethod
    def _arm(keys: list[str]) -> None:
        """The reply to this batch: the pickle when a key asks for it, else the honest one."""
        targets = [k.removeprefix(PREFIX) for k in keys if k.startswith(PREFIX)]
        protocol.done = (  # type: ignore[assignment]
            (lambda batch, rows: pickled_frame(targets[0])) if targets else HONEST_DONE
        )


class HostileKind(TextClassifierKind):
    name = "hostile-classifier"

    def load(self, spec: ModelVersion, settings: Settings) -> HostileServable:
        servable = super().load(spec, settings)
        return HostileServable(servable.classifier, servable.version)


KIND = HostileKind()
