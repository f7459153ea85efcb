"""What a kind of model is: how it loads, runs a batch, and reads and writes its protocols.

A kind is one module in `mlapi.kinds` that defines `KIND`, an instance of `ModelKind`. The
registry, batcher, cache and protocol adapters are shared by every kind: a kind only says how
its inputs become cache keys, how a batch of keys becomes one encoded result per key, and how
those results look in `/models/{name}/predict` and the Open Inference Protocol v2.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from mlapi.settings import Settings

# Settings a model entry may override for itself (the rest are the process's own).
MODEL_SETTINGS = frozenset(
    {
        "variant",
        "threads",
        "max_length",
        "max_batch_size",
        "max_wait_ms",
        "max_queue",
        "warmup_batches",
        "cache_size",
        "onnx_spin",
        "max_texts",
        "max_embedding_texts",
        "max_text_chars",
        "tabular_runtime",
        "cache_results",
        "workers",
    }
)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the models config: a name, a kind, a folder and its own settings."""

    name: str
    path: Path
    kind: str = "text-classifier"
    version: str = "1"
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, base: Settings) -> Settings:
        return Settings.model_validate({**base.model_dump(), **self.overrides})


@dataclass(frozen=True)
class V2Tensor:
    """An Open Inference Protocol v2 tensor (JSON form): data is flat, row-major."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datatype": self.datatype,
            "shape": self.shape,
            "data": self.data,
        }


@dataclass(frozen=True)
class Parsed:
    """A request, read: one cache key per item, and options that only shape the answer."""

    keys: list[str]
    options: dict[str, Any] = field(default_factory=dict)


class Servable(abc.ABC):
    """One loaded version of a model. `run` is synchronous: the batcher calls it in a thread.

    When the model runs in worker processes, the HTTP process holds a pickled copy of the
    servable without its runtime (the attributes named in `runtime_attrs`): what parsing,
    formatting and `card` need, and nothing that computes.
    """

    fingerprint: str
    runtime_attrs: ClassVar[tuple[str, ...]] = ()
    # Loading left memory behind that a fresh process loading the same version would not hold
    # (a variant trial that loaded every candidate, its result stored): a worker process is
    # then started once more before it serves.
    reload_saves_memory: bool = False

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self.runtime_attrs}

    @abc.abstractmethod
    def run(self, keys: list[str]) -> list[bytes]:
        """One encoded result per key (what the cache stores)."""

    @abc.abstractmethod
    def card(self) -> dict[str, Any]:
        """What /model, /stats and v2 metadata say about this version."""

    @abc.abstractmethod
    def valid(self, value: bytes) -> bool:
        """Whether a cached value read back from a shared store is one that `run` could have
        made for this version (shape, labels, finite numbers): Redis holds data, and a value
        that fails is a miss."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release runtime resources."""


class ModelKind(abc.ABC):
    name: ClassVar[str]
    caches_by_default: ClassVar[bool] = True  # per model: settings.cache_results
    # The setting that bounds how many items one request may hold; the model's queue holds
    # at least that many (a full request always fits).
    max_items_setting: ClassVar[str] = "max_texts"

    def max_items(self, settings: Settings) -> int:
        value: int = getattr(settings, self.max_items_setting)
        return value

    @abc.abstractmethod
    def load(self, spec: ModelSpec, settings: Settings) -> Servable:
        """Build and warm one version. Heavy: the registry calls it in a worker thread."""

    @abc.abstractmethod
    def parse_predict(self, body: bytes, servable: Servable, settings: Settings) -> Parsed:
        """Cache keys (and options) from a `/models/{name}/predict` body; typed 4xx errors."""

    @abc.abstractmethod
    def predict_body(self, rows: list[bytes], parsed: Parsed) -> bytes:
        """The `/models/{name}/predict` response body for the rows of one request."""

    @abc.abstractmethod
    def v2_keys(self, inputs: list[V2Tensor], servable: Servable, settings: Settings) -> list[str]:
        """Cache keys from v2 input tensors."""

    @abc.abstractmethod
    def v2_outputs(self, rows: list[bytes], servable: Servable) -> list[V2Tensor]:
        """v2 output tensors for the rows of one request."""

    @abc.abstractmethod
    def v2_signature(self, servable: Servable) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """v2 metadata: (inputs, outputs), each `{"name", "datatype", "shape"}`."""
