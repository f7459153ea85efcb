"""Liveness and readiness: `/health` and `/ready`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from mlapi.http.deps import ComponentsDep
from mlapi.http.schemas import Health

JSON = "application/json"
HEALTHY = b'{"status":"healthy"}'
router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Response:
    return Response(HEALTHY, media_type=JSON)


@router.get(
    "/ready", response_model=Health, responses={503: {"model": Health}}, summary="Readiness"
)
async def ready(components: ComponentsDep) -> Response:
    if components.ready():
        return Response(b'{"status":"ready"}', media_type=JSON)
    state = b"draining" if components.lifecycle.draining else b"loading"
    return Response(b'{"status":"' + state + b'"}', status_code=503, media_type=JSON)
