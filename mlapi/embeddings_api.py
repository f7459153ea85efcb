"""Embedding protocols over the registry: `/embed` (text-embeddings-inference's shape) and
the OpenAI-compatible `/v1/embeddings`. Both use the model's cache and batcher."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from mlapi.errors import InvalidRequest
from mlapi.http.body import read_body
from mlapi.kinds.embedding import EmbeddingServable, decode, parse_json, texts_of
from mlapi.routes import RegistryDep, ServiceDep, serve
from mlapi.runtime.embedder import normalize

JSON = "application/json"
router = APIRouter(tags=["embeddings"])


@router.post("/embed", summary="Embed texts with the first embedding model")
async def embed(request: Request, service: ServiceDep, registry: RegistryDep) -> Response:
    """`{"inputs": "..." | ["..."], "normalize": true, "truncate": true}` -> `[[...], ...]`."""
    return await serve(request, registry.first_of("embedding"), service.settings)


@router.post("/v1/embeddings", summary="OpenAI-compatible embeddings")
async def openai_embeddings(
    request: Request, service: ServiceDep, registry: RegistryDep
) -> Response:
    payload = parse_json(await read_body(request, service.settings.max_body_bytes))
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), str):
        raise InvalidRequest('"model" (a model name, GET /models lists them) is required')
    deployment = registry.get(payload["model"])
    servable = deployment.servable
    if not isinstance(servable, EmbeddingServable):
        raise InvalidRequest(f"model {payload['model']!r} is not an embedding model")
    texts, _ = texts_of(payload, "input", deployment.settings)
    encoding = payload.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise InvalidRequest('"encoding_format" must be "float" or "base64"')
    dimensions = payload.get("dimensions")
    if dimensions is not None and dimensions != servable.dim:
        raise InvalidRequest(
            f"this model gives {servable.dim} dimensions and cannot shorten them "
            f"(dimensions={dimensions})"
        )
    with deployment.use():
        rows, outcome = await deployment.predict(texts)
    vectors, counts = decode(rows)
    vectors = normalize(vectors)
    data: list[dict[str, Any]] = []
    for index, vector in enumerate(vectors):
        embedding: Any = (
            base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            if encoding == "base64"
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = int(sum(counts))
    body = {
        "object": "list",
        "data": data,
        "model": payload["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        media_type=JSON,
        headers={"X-MLAPI-Cache": outcome},
    )
