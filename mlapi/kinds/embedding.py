"""Sentence embeddings: a sentence-transformers folder; per text, one vector.

The cache holds each text's pooled vector compactly (token count + float32 bytes); a request's
options (normalize, truncate) shape the answer, not the key (`mlapi.protocols.tei`).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import numpy as np
import numpy.typing as npt

from mlapi.fleet.admission import check_folder, load_roots
from mlapi.kinds.base import Capability, Decoded, ModelKind, Servable
from mlapi.runtime.embedder import Embedder, SentenceTransformerFolder
from mlapi.runtime.select_embedding import EMBEDDING_VARIANTS, choose_embedding
from mlapi.serving.parsing import check_texts
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings

COUNT = struct.Struct("<I")
# Texts per request: OpenAI's embeddings API takes 2048 (a classifier's MLAPI_MAX_TEXTS is 64).
LIMIT = "max_embedding_texts"


def encode(vector: npt.NDArray[np.float32], tokens: int) -> bytes:
    return COUNT.pack(tokens) + np.asarray(vector, dtype="<f4").tobytes()


def decode(values: list[bytes]) -> Decoded:
    """Vectors (one per value) and token counts, from cached values."""
    vectors = np.vstack([np.frombuffer(v, dtype="<f4", offset=COUNT.size) for v in values])
    return Decoded(vectors.astype(np.float32), [COUNT.unpack_from(v)[0] for v in values])


class EmbeddingServable(Servable):
    runtime_attrs = ("model",)

    def __init__(self, model: Embedder, version: str) -> None:
        self.model = model
        self.version = version
        self.info = model.info
        self.fingerprint = model.info.fingerprint
        self.truncation = model.truncation  # also in the HTTP process's copy
        self.dim = self.width = model.width
        self.max_length = model.info.max_length
        self.packed = model.packed
        self.pooling = model.folder.pooling
        self.normalized = model.folder.normalize

    def keys(self, items: list[Any], settings: Settings) -> list[str]:
        return check_texts(items, settings, setting=LIMIT)

    def decode(self, values: list[bytes]) -> Decoded:
        return decode(values)

    def run(self, keys: list[str]) -> list[bytes]:
        vectors, counts = self.model.predict_counted(keys)
        return [encode(v, n) for v, n in zip(vectors, counts, strict=True)]

    def tokenize(self, keys: list[str]) -> list[list[int]]:
        return self.truncation.ids(keys)

    def run_tokens(self, keys: list[str], tokens: list[list[int]]) -> list[bytes]:
        vectors = self.model.predict_ids(tokens)
        return [encode(v, len(ids)) for v, ids in zip(vectors, tokens, strict=True)]

    def valid(self, value: bytes) -> bool:
        if len(value) != COUNT.size + 4 * self.dim:
            return False
        vector = np.frombuffer(value, dtype="<f4", offset=COUNT.size)
        return bool(np.isfinite(vector).all())

    def card(self) -> dict[str, Any]:
        info = self.info
        return {
            "name": info.name,
            "backend": info.backend,
            "fingerprint": info.fingerprint,
            "labels": [],
            "max_length": info.max_length,
            "dimensions": self.dim,
            "pooling": self.pooling,
            "normalize": self.normalized,
            "selection": info.selection,
        }

    def close(self) -> None:
        self.model.close()


def runtime_for(variant: str) -> str:
    """A fixed variant (`auto` runs the trial: `mlapi.runtime.select_embedding`)."""
    if variant not in EMBEDDING_VARIANTS:
        served = ", ".join(EMBEDDING_VARIANTS)
        raise ValueError(f"embedding models serve {served} or auto, not {variant}")
    return variant


class EmbeddingKind(ModelKind):
    name = "embedding"
    capability = Capability.EMBED
    max_items_setting = LIMIT

    def load(self, spec: ModelVersion, settings: Settings) -> EmbeddingServable:
        check_folder(spec.path, load_roots(settings, spec.path))  # every file under the roots
        if settings.variant == "auto":  # the fastest faithful variant on this CPU
            model, choice = choose_embedding(settings, spec.path)
            model.info = dataclasses.replace(model.info, selection=choice.as_dict())
        else:
            model = Embedder(
                SentenceTransformerFolder.read(spec.path),
                runtime=runtime_for(settings.variant),
                threads=settings.threads,
                max_length=settings.max_length,
                max_batch_size=settings.max_batch_size,
            )
        for _ in range(settings.warmup_batches):
            model.predict(["warm up the model " * 4] * 8)
        return EmbeddingServable(model, spec.version)


KIND = EmbeddingKind()
