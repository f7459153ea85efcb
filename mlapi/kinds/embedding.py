"""Sentence embeddings: a sentence-transformers folder; per text, one vector.

The cache holds each text's pooled vector compactly (token count + float32 bytes); the
request's options (normalize) shape the answer, not the key. `/embed` (text-embeddings-
inference's shape) and `/v1/embeddings` (OpenAI's) are adapters over this kind.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from mlapi.errors import InputTooLong, InvalidJSON, InvalidRequest
from mlapi.kinds.base import ModelKind, ModelSpec, Parsed, Servable, V2Tensor
from mlapi.parsing import check_texts
from mlapi.runtime.embedder import EMBEDDING_FILES, Embedder, SentenceTransformerFolder, normalize
from mlapi.settings import Settings

COUNT = struct.Struct("<I")
# Texts per request: OpenAI's embeddings API takes 2048 (a classifier's MLAPI_MAX_TEXTS is 64).
LIMIT = "max_embedding_texts"


def encode(vector: npt.NDArray[np.float32], tokens: int) -> bytes:
    return COUNT.pack(tokens) + np.asarray(vector, dtype="<f4").tobytes()


def decode(rows: list[bytes]) -> tuple[npt.NDArray[np.float32], list[int]]:
    """Vectors (one per row) and token counts, from cached values."""
    vectors = np.vstack([np.frombuffer(row, dtype="<f4", offset=COUNT.size) for row in rows])
    return vectors.astype(np.float32), [COUNT.unpack_from(row)[0] for row in rows]


class EmbeddingServable(Servable):
    runtime_attrs = ("model",)

    def __init__(self, model: Embedder, version: str) -> None:
        self.model = model
        self.version = version
        self.info = model.info
        self.fingerprint = model.info.fingerprint
        self.dim = model.width
        self.pooling = model.folder.pooling
        self.normalized = model.folder.normalize

    def run(self, keys: list[str]) -> list[bytes]:
        vectors, counts = self.model.predict_counted(keys)
        return [encode(v, n) for v, n in zip(vectors, counts, strict=True)]

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
        }

    def close(self) -> None:
        self.model.close()


def runtime_for(variant: str, root: Path) -> str:
    """`auto` serves the ONNX fp32 export when there is one, else torch fp32."""
    if variant == "auto":
        folder = SentenceTransformerFolder.read(root)
        exported = (folder.transformer / "onnx" / EMBEDDING_FILES["fp32"]).is_file()
        return "onnx-fp32" if exported else "torch-fp32"
    served = ("onnx-fp32", "onnx-int8", "onnx-int8-mixed", "torch-fp32")
    if variant not in served:
        raise ValueError(f"embedding models serve {', '.join(served)}, not {variant}")
    return variant


def texts_of(payload: Any, field: str, settings: Settings) -> tuple[list[str], bool]:
    value = payload.get(field) if isinstance(payload, dict) else None
    if isinstance(value, str):
        return check_texts([value], settings, setting=LIMIT), True
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f'"{field}" must be a string or a non-empty list of strings')
    if any(isinstance(v, int | list) for v in value):
        raise InvalidRequest(f'"{field}": token arrays are not supported; send strings')
    return check_texts(value, settings, setting=LIMIT), False


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8 JSON: {exc}") from None


def check_length(counts: list[int], limit: int) -> None:
    """`"truncate": false`: refuse texts the tokenizer cut. Counts come with the vectors (the
    model's worker tokenizes once), so the check runs on the answer, never on the event loop."""
    for index, count in enumerate(counts):
        if count >= limit:  # at the limit: the tokenizer may have cut it
            raise InputTooLong(
                f"inputs[{index}] has at least {count} tokens, the model takes {limit}; "
                'send "truncate": true to cut it',
                limit="max_length",
            )


def vectors_for(rows: list[bytes], servable: Servable, norm: bool) -> npt.NDArray[np.float32]:
    vectors, _ = decode(rows)
    return normalize(vectors) if norm else vectors


class EmbeddingKind(ModelKind):
    name = "embedding"
    max_items_setting = LIMIT

    def load(self, spec: ModelSpec, settings: Settings) -> EmbeddingServable:
        folder = SentenceTransformerFolder.read(spec.path)
        model = Embedder(
            folder,
            runtime=runtime_for(settings.variant, spec.path),
            threads=settings.threads,
            max_length=settings.max_length,
            max_batch_size=settings.max_batch_size,
        )
        for _ in range(settings.warmup_batches):
            model.predict(["warm up the model " * 4] * 8)
        return EmbeddingServable(model, spec.version)

    def parse_predict(self, body: bytes, servable: Servable, settings: Settings) -> Parsed:
        """text-embeddings-inference's `/embed`: inputs, normalize, truncate."""
        assert isinstance(servable, EmbeddingServable)
        payload = parse_json(body)
        texts, _ = texts_of(payload, "inputs", settings)
        options = {
            "normalize": payload.get("normalize", True),
            "truncate": payload.get("truncate", True),
        }
        for key, value in options.items():
            if not isinstance(value, bool):
                raise InvalidRequest(f'"{key}" must be true or false')
        if not options["truncate"]:
            options["max_length"] = servable.info.max_length
        return Parsed(texts, options)

    def predict_body(self, rows: list[bytes], parsed: Parsed) -> bytes:
        vectors, counts = decode(rows)
        if "max_length" in parsed.options:
            check_length(counts, parsed.options["max_length"])
        if parsed.options.get("normalize", True):
            vectors = normalize(vectors)
        return orjson.dumps(vectors, option=orjson.OPT_SERIALIZE_NUMPY)

    def v2_keys(self, inputs: list[V2Tensor], servable: Servable, settings: Settings) -> list[str]:
        texts = [t for t in inputs if t.datatype == "BYTES"]
        if len(texts) != 1:
            raise InvalidRequest("send exactly one BYTES input tensor holding the texts")
        return check_texts(list(texts[0].data), settings, setting=LIMIT)

    def v2_outputs(self, rows: list[bytes], servable: Servable) -> list[V2Tensor]:
        assert isinstance(servable, EmbeddingServable)
        vectors = vectors_for(rows, servable, True)
        return [V2Tensor("embedding", "FP32", list(vectors.shape), vectors.ravel().tolist())]

    def v2_signature(self, servable: Servable) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        assert isinstance(servable, EmbeddingServable)
        inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        return inputs, [{"name": "embedding", "datatype": "FP32", "shape": [-1, servable.dim]}]


KIND = EmbeddingKind()
