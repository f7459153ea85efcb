"""What a kind of model is: how it loads, what it can do, and how its answers are stored.

A kind is one module in `mlapi.kinds` that defines `KIND`, an instance of `ModelKind`. The
registry, batcher, cache and protocols (`mlapi.protocols`) are shared by every kind. A kind says
what it can do (its `Capability`); its servable says how neutral inputs (texts, or rows of
numbers) become cache keys, how a batch of keys becomes one stored value per key, and how stored
values decode into one row of numbers per input. No kind knows a protocol.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings


class Capability(enum.StrEnum):
    """What a model does; a protocol serves the models whose capability it speaks."""

    CLASSIFY = "classify"  # texts -> one probability per label
    EMBED = "embed"  # texts -> one vector
    CLASSIFY_ROWS = "classify rows"  # rows of numbers -> one probability per label


@dataclass(frozen=True)
class Decoded:
    """Stored values, decoded: one row of `values` per input (probabilities in label order,
    or a vector), and for text models the tokens each input had."""

    values: npt.NDArray[np.floating[Any]]
    tokens: list[int] | None = None


class Servable(abc.ABC):
    """One loaded version of a model. `run` is synchronous: the batcher calls it in a thread.

    When the model runs in worker processes, the HTTP process holds a copy of the servable
    without its runtime (the attributes named in `runtime_attrs`): what `keys`, `decode` and
    `card` need, and nothing that computes. The worker sends it as data, not as a pickle
    (`mlapi.workers.state`): its other attributes are plain values, tuples, dicts, tokenizers
    and the value classes that module carries.
    """

    fingerprint: str
    runtime_attrs: ClassVar[tuple[str, ...]] = ()
    # Loading left memory behind that a fresh process loading the same version would not hold
    # (a variant trial that loaded every candidate, its result stored): a worker process is
    # then started once more before it serves.
    reload_saves_memory: bool = False
    labels: tuple[str, ...] = ()  # what each value of a row means, when it is a label
    width: int = 0  # values per row
    input_width: int | None = None  # numbers per input row (tabular); None: texts
    max_length: int = 0  # tokens a text model reads of a text; 0: not a text model
    packed: bool = False  # runs unpadded: batched by real tokens, whatever their lengths

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self.runtime_attrs}

    @abc.abstractmethod
    def keys(self, items: list[Any], settings: Settings) -> list[str]:
        """One cache key per input (a text, or a row of numbers), within the per-request
        limits of `settings`; typed 4xx errors for anything else."""

    @abc.abstractmethod
    def run(self, keys: list[str]) -> list[bytes]:
        """One stored value per key (what the cache holds)."""

    def tokenize(self, keys: list[str]) -> list[list[int]] | None:
        """Token ids per key, made where the request is read (the HTTP process), so that the
        batcher can group by length and the worker only runs the model; None: not a text
        model, or one that tokenizes in `run`."""
        return None

    def run_tokens(self, keys: list[str], tokens: list[list[int]]) -> list[bytes]:
        """`run`, given `tokenize`'s ids for the same keys."""
        return self.run(keys)

    @abc.abstractmethod
    def decode(self, values: list[bytes]) -> Decoded:
        """Stored values as numbers, one row per value."""

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
    capability: ClassVar[Capability]
    caches_by_default: ClassVar[bool] = True  # per model: settings.cache_results
    # The setting that bounds how many items one request may hold; the model's queue holds
    # at least that many (a full request always fits).
    max_items_setting: ClassVar[str] = "max_texts"

    def max_items(self, settings: Settings) -> int:
        value: int = getattr(settings, self.max_items_setting)
        return value

    @abc.abstractmethod
    def load(self, spec: ModelVersion, settings: Settings) -> Servable:
        """Build and warm one version. Heavy: the registry calls it in a worker thread."""
