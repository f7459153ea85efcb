"""mlapi's own routes besides inference (`mlapi.http.endpoint`): health, models, the admin API
and figures. The registry owns models, caches and batchers."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from mlapi import __version__
from mlapi.app.lifecycle import Lifecycle
from mlapi.errors import NotReady
from mlapi.fleet.admission import LoadParameters
from mlapi.fleet.control import Fleet
from mlapi.http.auth import AdminChecker, KeyChecker
from mlapi.http.schemas import ErrorBody, Health, ModelCard
from mlapi.serving.registry import Registry
from mlapi.settings import Settings

JSON = "application/json"
HEALTHY = b'{"status":"healthy"}'


@dataclass
class Service:
    """What the lifespan builds; `registry` is None until the models are loaded."""

    settings: Settings
    lifecycle: Lifecycle
    keys: KeyChecker
    admin: AdminChecker
    registry: Registry | None = None
    fleet: Fleet | None = None
    started: float = field(default_factory=time.time)


# Dependencies are `async def`: FastAPI would run plain `def` ones in a thread pool, which
# cost a thread hop per request on the hot path (seen in a py-spy profile).
async def get_service(request: Request) -> Service:
    service = request.app.state.service
    assert isinstance(service, Service)
    return service


def loaded(service: Service) -> Registry:
    if service.registry is None or not service.lifecycle.ready:
        raise NotReady("models are not loaded yet", headers={"Retry-After": "1"})
    return service.registry


async def get_registry(
    request: Request, service: Annotated[Service, Depends(get_service)]
) -> Registry:
    service.keys.check(request)
    return loaded(service)


async def get_admin_registry(
    request: Request, service: Annotated[Service, Depends(get_service)]
) -> Registry:
    service.admin.check(request)
    return loaded(service)


async def get_fleet(request: Request, service: Annotated[Service, Depends(get_service)]) -> Fleet:
    service.admin.check(request)
    loaded(service)
    assert service.fleet is not None  # set with the registry
    return service.fleet


ServiceDep = Annotated[Service, Depends(get_service)]
FleetDep = Annotated[Fleet, Depends(get_fleet)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
AdminDep = Annotated[Registry, Depends(get_admin_registry)]

router = APIRouter()
_errors: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 404, 413, 422, 500, 503)
}


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Response:
    return Response(HEALTHY, media_type=JSON)


@router.get(
    "/ready", response_model=Health, responses={503: {"model": Health}}, summary="Readiness"
)
async def ready(service: ServiceDep) -> Response:
    lifecycle = service.lifecycle
    if lifecycle.serving and service.registry is not None and service.registry.ready():
        return Response(b'{"status":"ready"}', media_type=JSON)
    state = b"draining" if lifecycle.draining else b"loading"
    return Response(b'{"status":"' + state + b'"}', status_code=503, media_type=JSON)


@router.get("/model", response_model=ModelCard, summary="The default model")
async def model(registry: RegistryDep) -> ModelCard:
    return ModelCard.model_validate(registry.default.card())


@router.get("/models", summary="Every model and the version it serves")
async def models(service: ServiceDep, registry: RegistryDep) -> dict[str, Any]:
    """Per model: what this replica serves, and the fleet's desired state beside it."""
    fleet = service.fleet
    return {
        "default": registry.default_name,
        "models": [
            {
                **entry,
                **(
                    {"card": registry.get(entry["name"]).card()}
                    if entry["state"] == "READY"
                    else {}
                ),
                **({"fleet": fleet.status(entry["name"])} if fleet is not None else {}),
            }
            for entry in registry.index()
        ],
    }


@router.post(
    "/models/{name}/load",
    responses={code: {"model": ErrorBody} for code in (403, 404, 409, 422)},
    summary="Load or replace a model (admin)",
)
async def load(name: str, fleet: FleetDep, body: LoadParameters | None = None) -> dict[str, Any]:
    """Builds and warms the new version beside the old one, then switches; no request fails.
    The fleet's desired state follows: every replica sharing Redis loads it too."""
    body = body or LoadParameters()
    path = Path(body.path) if body.path else None
    deployment = await fleet.load(
        name, path, version=body.version, kind=body.kind, overrides=body.settings
    )
    return deployment.card()


@router.delete(
    "/models/{name}",
    responses={code: {"model": ErrorBody} for code in (403, 404, 409)},
    summary="Unload a model (admin); the default model cannot be unloaded",
)
async def unload(name: str, fleet: FleetDep) -> dict[str, str]:
    await fleet.unload(name)
    return {"unloaded": name}


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: str | None = Field(None, description="Unset: the version before the current one.")


@router.post(
    "/models/{name}/rollback",
    responses={code: {"model": ErrorBody} for code in (403, 404, 409, 422, 503)},
    summary="Serve an earlier version on every replica (admin)",
)
async def rollback(
    name: str, fleet: FleetDep, body: RollbackRequest | None = None
) -> dict[str, Any]:
    deployment = await fleet.rollback(name, (body or RollbackRequest()).version)
    return deployment.card()


class CanaryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    path: str = Field(max_length=4096, description="The canary's model folder.")
    percent: float = Field(description="Share of distinct texts it answers, 0-100.")
    version: str | None = Field(None, description="Unset: the serving version + 1.")
    settings: dict[str, Any] | None = Field(None, description="Per-model settings.")


@router.post(
    "/models/{name}/canary",
    responses={code: {"model": ErrorBody} for code in (403, 404, 422, 503)},
    summary="Serve a second version to a stable share of texts (admin)",
)
async def canary(name: str, fleet: FleetDep, body: CanaryRequest) -> dict[str, Any]:
    """Each text goes to one version by a stable hash of the text, on every replica."""
    built = await fleet.start_canary(
        name,
        Path(body.path),
        percent=body.percent,
        version=body.version,
        overrides=body.settings,
    )
    return {**built.card(), "percent": body.percent}


@router.post(
    "/models/{name}/canary/promote",
    responses={code: {"model": ErrorBody} for code in (403, 404, 503)},
    summary="Serve the canary to every text (admin)",
)
async def promote(name: str, fleet: FleetDep) -> dict[str, Any]:
    return (await fleet.promote(name)).card()


@router.delete(
    "/models/{name}/canary",
    responses={code: {"model": ErrorBody} for code in (403, 404, 503)},
    summary="Stop the canary (admin)",
)
async def abort(name: str, fleet: FleetDep) -> dict[str, str]:
    await fleet.abort(name)
    return {"aborted": name}


@router.get(
    "/stats",
    summary="Live figures per model (cheap); behind the API key, like the predict routes",
    responses={401: {"model": ErrorBody}},
)
async def stats(request: Request, service: ServiceDep) -> dict[str, Any]:
    service.keys.check(request)  # fingerprints, pids and workers are not for anonymous callers
    registry = service.registry
    return {
        "service": "mlapi",
        "version": __version__,
        "pid": os.getpid(),
        "pod": os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or "",
        "uptime_s": round(time.time() - service.started, 3),
        "ready": bool(registry and registry.ready() and service.lifecycle.serving),
        "inflight_requests": service.lifecycle.inflight,
        "default_model": registry.default_name if registry else None,
        "models": {
            slot.name: {
                **(slot.current.stats_dict() if slot.current else {"state": "UNAVAILABLE"}),
                **({"fleet": service.fleet.status(slot.name)} if service.fleet else {}),
            }
            for slot in (registry.slots.values() if registry else [])
        },
    }
