"""The inference routes as FastAPI declares them: their OpenAPI schema.

`mlapi.http.endpoint` answers these paths before FastAPI's router; a declaration reached
anyway (an app mounted without the service's stack) hands its request to the same endpoint.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlapi.http import endpoint
from mlapi.http.schemas import ErrorBody, PredictRequest, PredictResponse
from mlapi.protocols.v2.codec import InferRequest

JSON = "application/json"
_errors: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 404, 413, 422, 500, 503)
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


async def _answer(request: Request) -> Response:
    route = endpoint.match(request.scope)
    assert route is not None  # declared here, so matched there (a test holds them together)
    answering = endpoint.InferenceEndpoint(request.app.state.service)
    return await answering.answer(request.scope, request.receive, route)


async def _named(name: str, request: Request) -> Response:
    return await _answer(request)


async def _versioned(name: str, version: str, request: Request) -> Response:
    return await _answer(request)


router = APIRouter()
router.add_api_route(
    endpoint.PREDICT,
    _answer,
    methods=["POST"],
    response_model=PredictResponse,
    responses=_errors,
    openapi_extra=_body(PredictRequest.model_json_schema()),
    summary="Classify texts with the default model",
    description="One list of `{label, score}` per text, labels in the model's id order.",
)
router.add_api_route(
    endpoint.NAMED,
    _named,
    methods=["POST"],
    responses=_errors,
    summary="Predict with a named model",
    description="The body and answer of the model's capability: texts for a classifier (as "
    '`/predict`), `{"x": [[...], ...]}` for a tabular model, `/embed`\'s body for an '
    "embedding model.",
)
router.add_api_route(
    endpoint.EMBED,
    _answer,
    methods=["POST"],
    responses=_errors,
    tags=["embeddings"],
    summary="Embed texts with the first embedding model",
    description='`{"inputs": "..." | ["..."], "normalize": true, "truncate": true}` -> '
    "`[[...], ...]`.",
)
router.add_api_route(
    endpoint.OPENAI,
    _answer,
    methods=["POST"],
    responses=_errors,
    tags=["embeddings"],
    summary="OpenAI-compatible embeddings",
)
for path, handler in ((endpoint.V2_INFER, _named), (endpoint.V2_VERSION_INFER, _versioned)):
    router.add_api_route(
        path,
        handler,
        methods=["POST"],
        tags=["v2"],
        openapi_extra=_body(InferRequest.model_json_schema()),
        summary="Inference",
    )
