"""The Open Inference Protocol v2 routes besides inference (`mlapi.protocols.v2.codec`): server and
model metadata, health, and the model repository extension, which loads and unloads through the
fleet (admin key). Errors are `{"error": "..."}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from mlapi import __version__
from mlapi.fleet.admission import parse_parameters
from mlapi.http.deps import AdminDep, FleetDep, RegistryDep, ServiceDep
from mlapi.protocols.v2.codec import signature
from mlapi.serving.deployment import Deployment

JSON = "application/json"
router = APIRouter(prefix="/v2", tags=["v2"])


def _metadata(deployment: Deployment) -> dict[str, Any]:
    inputs, outputs = signature(deployment)
    card = deployment.card()
    return {
        "name": deployment.spec.name,
        "versions": [deployment.version],
        "platform": f"mlapi-{card.get('backend', deployment.kind.name)}",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "kind": deployment.kind.name,
            "fingerprint": deployment.servable.fingerprint,
        },
    }


@router.get("", summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {
        "name": "mlapi",
        "version": __version__,
        "extensions": ["model_repository", "binary_tensor_data"],
    }


@router.get("/health/live", summary="Server live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", summary="Server ready")
async def server_ready(service: ServiceDep) -> Response:
    registry = service.registry
    ok = service.lifecycle.serving and registry is not None and registry.ready()
    return Response(orjson.dumps({"ready": ok}), status_code=200 if ok else 503, media_type=JSON)


@router.get("/models/{name}", summary="Model metadata")
@router.get("/models/{name}/versions/{version}", summary="Model metadata")
async def model_metadata(
    name: str, registry: RegistryDep, version: str | None = None
) -> dict[str, Any]:
    return _metadata(registry.get(name, version))


@router.get("/models/{name}/ready", summary="Model ready")
@router.get("/models/{name}/versions/{version}/ready", summary="Model ready")
async def model_ready(name: str, registry: RegistryDep, version: str | None = None) -> Response:
    deployment = registry.get(name, version)
    return Response(
        orjson.dumps({"name": name, "ready": True, "version": deployment.version}), media_type=JSON
    )


class RepositoryLoad(BaseModel):
    parameters: Any = None  # checked by `parse_parameters`: a typed 422 in v2's error body


@router.post("/repository/index", summary="Models in the repository (admin)")
async def repository_index(registry: AdminDep) -> list[dict[str, Any]]:
    return registry.index()


@router.post("/repository/models/{name}/load", summary="Load or reload a model (admin)")
async def repository_load(
    name: str, fleet: FleetDep, body: RepositoryLoad | None = None
) -> dict[str, Any]:
    """`parameters` may hold `path` (a model folder), `version`, `kind` and `settings`."""
    params = parse_parameters(body.parameters if body else None)
    await fleet.load(
        name,
        Path(params.path) if params.path else None,
        version=params.version,
        kind=params.kind,
        overrides=params.settings,
    )
    return {}


@router.post("/repository/models/{name}/unload", summary="Unload a model (admin)")
async def repository_unload(name: str, fleet: FleetDep) -> dict[str, Any]:
    await fleet.unload(name)
    return {}
