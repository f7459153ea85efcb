"""HTTP routes. They hand texts to the predictor and never touch tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from mlapi.auth import KeyChecker
from mlapi.errors import NotReady
from mlapi.lifecycle import Lifecycle
from mlapi.parsing import parse_texts, read_body
from mlapi.predictor import Predictor
from mlapi.schemas import ErrorBody, Health, ModelCard, PredictRequest, PredictResponse
from mlapi.settings import Settings

JSON = "application/json"
HEALTHY = b'{"status":"healthy"}'


@dataclass
class Service:
    """What the lifespan builds; `predictor` is None until the model is loaded."""

    settings: Settings
    lifecycle: Lifecycle
    keys: KeyChecker
    predictor: Predictor | None = None


# Dependencies are `async def`: FastAPI would run plain `def` ones in a thread pool, which
# cost a thread hop per request on the hot path (seen in a py-spy profile).
async def get_service(request: Request) -> Service:
    service = request.app.state.service
    assert isinstance(service, Service)
    return service


async def get_predictor(
    request: Request, service: Annotated[Service, Depends(get_service)]
) -> Predictor:
    service.keys.check(request)
    if service.predictor is None or not service.lifecycle.ready:
        raise NotReady("model is not loaded yet", headers={"Retry-After": "1"})
    return service.predictor


ServiceDep = Annotated[Service, Depends(get_service)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]

router = APIRouter()
_errors: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 413, 422, 500, 503)
}
_predict_body = {
    "requestBody": {
        "required": True,
        "content": {JSON: {"schema": PredictRequest.model_json_schema()}},
    }
}


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=_errors,
    openapi_extra=_predict_body,
    summary="Classify texts",
)
async def predict(request: Request, service: ServiceDep, predictor: PredictorDep) -> Response:
    """One list of `{label, score}` per text, labels in the model's id order."""
    settings = service.settings
    texts = parse_texts(await read_body(request, settings.max_body_bytes), settings)
    body, outcome = await predictor.predict(texts)
    return Response(body, media_type=JSON, headers={"X-MLAPI-Cache": outcome})


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Response:
    return Response(HEALTHY, media_type=JSON)


@router.get(
    "/ready", response_model=Health, responses={503: {"model": Health}}, summary="Readiness"
)
async def ready(service: ServiceDep) -> Response:
    lifecycle = service.lifecycle
    if lifecycle.serving:
        return Response(b'{"status":"ready"}', media_type=JSON)
    state = b"draining" if lifecycle.draining else b"loading"
    return Response(b'{"status":"' + state + b'"}', status_code=503, media_type=JSON)


@router.get("/model", response_model=ModelCard, summary="The served model")
async def model(predictor: PredictorDep) -> ModelCard:
    info = predictor.classifier.info
    return ModelCard(
        name=info.name,
        backend=info.backend,
        fingerprint=info.fingerprint,
        labels=list(info.labels),
        max_length=info.max_length,
        selection=info.selection,
    )
