"""The Open Inference Protocol v2 routes besides inference (`mlapi.protocols.v2.codec`): server and
model metadata, health, and the model repository extension, which loads and unloads through the
fleet (admin key). Errors are `{"error": "..."}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from mlapi import __version__
from mlapi.errors import InvalidRequest
from mlapi.http.deps import AdminDep, ComponentsDep, FleetDep, RegistryDep
from mlapi.protocols.v2.codec import signature
from mlapi.serving.deployment import Deployment
from mlapi.serving.status import ModelIndexEntry
from mlapi.serving.version import LoadRequest
from mlapi.validation import first_problem

JSON = "application/json"
router = APIRouter(prefix="/v2", tags=["v2"])


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: any size.")


class ModelParameters(BaseModel):
    kind: str
    fingerprint: str


class ModelMetadata(BaseModel):
    """v2's model metadata: the version served, its backend, its tensors."""

    name: str
    versions: list[str]
    platform: str = Field(description="`mlapi-` and the served backend, e.g. mlapi-onnx-int8.")
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: ModelParameters


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


def _metadata(deployment: Deployment) -> ModelMetadata:
    inputs, outputs = signature(deployment)
    return ModelMetadata(
        name=deployment.version.name,
        versions=[deployment.version.version],
        platform=f"mlapi-{deployment.card().backend}",
        inputs=[TensorMetadata.model_validate(tensor) for tensor in inputs],
        outputs=[TensorMetadata.model_validate(tensor) for tensor in outputs],
        parameters=ModelParameters(
            kind=deployment.kind.name, fingerprint=deployment.servable.fingerprint
        ),
    )


@router.get("", response_model=ServerMetadata, summary="Server metadata")
async def server_metadata() -> ServerMetadata:
    return ServerMetadata(
        name="mlapi",
        version=__version__,
        extensions=["model_repository", "binary_tensor_data"],
    )


@router.get("/health/live", summary="Server live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", summary="Server ready")
async def server_ready(components: ComponentsDep) -> Response:
    ok = components.ready()
    return Response(orjson.dumps({"ready": ok}), status_code=200 if ok else 503, media_type=JSON)


@router.get("/models/{name}", response_model=ModelMetadata, summary="Model metadata")
@router.get(
    "/models/{name}/versions/{version}", response_model=ModelMetadata, summary="Model metadata"
)
async def model_metadata(
    name: str, registry: RegistryDep, version: str | None = None
) -> ModelMetadata:
    return _metadata(registry.get(name, version))


@router.get("/models/{name}/ready", summary="Model ready")
@router.get("/models/{name}/versions/{version}/ready", summary="Model ready")
async def model_ready(name: str, registry: RegistryDep, version: str | None = None) -> Response:
    deployment = registry.get(name, version)
    return Response(
        orjson.dumps({"name": name, "ready": True, "version": deployment.version.version}),
        media_type=JSON,
    )


class RepositoryLoad(BaseModel):
    parameters: Any = None  # a `LoadRequest`, checked by `load_request`: v2's error body


def load_request(parameters: Any) -> LoadRequest:
    """v2 `parameters` (any JSON) as a load request, or a typed 422 naming the field."""
    try:
        return LoadRequest.model_validate(parameters or {})
    except ValidationError as exc:
        where = first_problem(exc.errors(), top="parameters")
        raise InvalidRequest(f"parameters.{where}") from None


@router.post(
    "/repository/index",
    response_model=list[ModelIndexEntry],
    summary="Models in the repository (admin)",
)
async def repository_index(registry: AdminDep) -> list[ModelIndexEntry]:
    return registry.index()


@router.post("/repository/models/{name}/load", summary="Load or reload a model (admin)")
async def repository_load(
    name: str, fleet: FleetDep, body: RepositoryLoad | None = None
) -> dict[str, Any]:
    """`parameters` may hold `path` (a model folder), `version`, `kind` and `settings`."""
    await fleet.load(name, load_request(body.parameters if body else None))
    return {}


@router.post("/repository/models/{name}/unload", summary="Unload a model (admin)")
async def repository_unload(name: str, fleet: FleetDep) -> dict[str, Any]:
    await fleet.unload(name)
    return {}
