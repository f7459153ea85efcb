"""OpenAI's `POST /v1/embeddings`: `{"model", "input", "encoding_format"?, "dimensions"?}`.

Up to `MLAPI_MAX_EMBEDDING_TEXTS` inputs per request (OpenAI's own limit is 2048); vectors
are normalized, as OpenAI's are, and `usage` counts the tokens the model read.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlapi.errors import InvalidRequest
from mlapi.kinds import Capability
from mlapi.protocols.base import Answer, Call, require, served_by
from mlapi.protocols.texts import text_items
from mlapi.runtime.embedder import normalize
from mlapi.serving.dataplane import DataPlane
from mlapi.validation import parse_json


@dataclass(frozen=True)
class EmbeddingsRequest:
    model: str
    texts: list[Any]  # each checked by the model's `keys`
    encoding: str  # "float" or "base64"
    dimensions: Any  # None, or what the client sent: checked against the model's width


def decode(body: bytes) -> EmbeddingsRequest:
    payload = parse_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
        raise InvalidRequest('"model" (a model name, GET /models lists them) is required')
    texts = text_items(payload, "input")
    encoding = payload.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise InvalidRequest('"encoding_format" must be "float" or "base64"')
    return EmbeddingsRequest(payload["model"], texts, encoding, payload.get("dimensions"))


class OpenAI:
    name = "openai"

    async def handle(self, call: Call, plane: DataPlane) -> Answer:
        request = decode(call.body)
        deployment = plane.model(request.model)
        require(deployment, Capability.EMBED)
        dimensions = request.dimensions
        width = deployment.servable.width
        if dimensions is not None and dimensions != width:
            raise InvalidRequest(
                f"this model gives {width} dimensions and cannot shorten them "
                f"(dimensions={dimensions})"
            )
        result = await plane.infer(deployment, request.texts)
        decoded = result.decoded()
        vectors = normalize(decoded.values)
        data: list[dict[str, Any]] = []
        for index, vector in enumerate(vectors):
            embedding: Any = (
                base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
                if request.encoding == "base64"
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = int(sum(decoded.tokens or ()))
        body = {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Answer(
            orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
            headers=served_by(result.version, result.outcome),
        )


CODEC = OpenAI()
