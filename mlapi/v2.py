"""Open Inference Protocol v2 (KServe / Triton / MLServer REST), a thin adapter on the registry.

Inference goes through the model's cache and batcher like `/predict`; errors are
`{"error": "..."}`. Tensors come and go as JSON or in the binary tensor data extension
(`mlapi.v2_binary`), which tritonclient uses by default. The model repository extension
loads and unloads through the registry's live swap (admin key).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from mlapi import __version__, v2_binary
from mlapi.admission import parse_parameters
from mlapi.errors import InvalidJSON, InvalidRequest
from mlapi.http.body import read_body
from mlapi.kinds import V2Tensor
from mlapi.registry import Deployment
from mlapi.routes import AdminDep, FleetDep, RegistryDep, ServiceDep

JSON = "application/json"
router = APIRouter(prefix="/v2", tags=["v2"])


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | None = None  # None: sent as binary data (parameters.binary_data_size)
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[InferInput] = Field(..., min_length=1)
    outputs: list[dict[str, Any]] | None = None
    parameters: dict[str, Any] | None = None


def _flatten(data: list[Any]) -> list[Any]:
    """v2 allows nested (row-major) lists; tensors are handled flat."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def parse_infer(body: bytes, headers: Any) -> InferRequest:
    """The request, every input's data in `data` (binary tensor data decoded)."""
    header, tail = v2_binary.split(body, headers.get(v2_binary.HEADER))
    try:
        parsed = InferRequest.model_validate(orjson.loads(header))
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"body is not valid JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}") from None
    offset = 0
    for given in parsed.inputs:
        size = v2_binary.binary_size(given.name, given.parameters)
        if size is None:
            if given.data is None:
                raise InvalidRequest(f"input {given.name!r}: data is required")
            continue
        if offset + size > len(tail):
            raise InvalidRequest(
                f"input {given.name!r}: binary_data_size {size} runs past the body's binary data"
            )
        given.data = v2_binary.decode(given.name, given.datatype, tail[offset : offset + size])
        offset += size
    if offset != len(tail):
        raise InvalidRequest(f"{len(tail) - offset} bytes of binary data belong to no input")
    return parsed


MAX_DIMS = 8


def tensor(given: InferInput) -> V2Tensor:
    """A request tensor whose shape holds exactly its data (no negative or huge dimension)."""
    data = _flatten(given.data or [])
    shape = given.shape
    if len(shape) > MAX_DIMS or any(d < 0 for d in shape):
        raise InvalidRequest(
            f"input {given.name!r}: shape {shape[: MAX_DIMS + 1]} must have at most {MAX_DIMS} "
            "dimensions, none negative"
        )
    if math.prod(shape) != len(data):  # Python ints: no overflow
        raise InvalidRequest(
            f"input {given.name!r}: shape {shape} does not match {len(data)} elements"
        )
    return V2Tensor(given.name, given.datatype.upper(), shape, data)


def _metadata(deployment: Deployment) -> dict[str, Any]:
    inputs, outputs = deployment.kind.v2_signature(deployment.servable)
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


@router.post("/models/{name}/infer", summary="Inference")
@router.post("/models/{name}/versions/{version}/infer", summary="Inference")
async def infer(
    name: str,
    request: Request,
    service: ServiceDep,
    registry: RegistryDep,
    version: str | None = None,
) -> Response:
    deployment = registry.get(name, version)
    with deployment.use():
        body = await read_body(request, service.settings.max_body_bytes)
        parsed = parse_infer(body, request.headers)
        tensors = [tensor(t) for t in parsed.inputs]
        keys = deployment.kind.v2_keys(tensors, deployment.servable, deployment.settings)
        rows, outcome = await deployment.predict(keys)
    outputs = deployment.kind.v2_outputs(rows, deployment.servable)
    if parsed.outputs:
        wanted = {o.get("name") for o in parsed.outputs}
        unknown = wanted - {o.name for o in outputs}
        if unknown:
            raise InvalidRequest(f"unknown outputs {sorted(map(str, unknown))}")
        outputs = [o for o in outputs if o.name in wanted]
    answer: dict[str, Any] = {"model_name": name, "model_version": deployment.version}
    if parsed.id is not None:
        answer["id"] = parsed.id
    return _answer(answer, outputs, parsed, {"X-MLAPI-Cache": outcome})


def _answer(
    answer: dict[str, Any], outputs: list[V2Tensor], parsed: InferRequest, headers: dict[str, str]
) -> Response:
    """JSON outputs, or a JSON header followed by the outputs asked for as binary data."""
    tensors: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for output in outputs:
        if v2_binary.wants_binary(output.name, parsed.outputs, parsed.parameters):
            binary.append(v2_binary.encode(output.datatype, output.data))
            tensors.append(
                {
                    "name": output.name,
                    "datatype": output.datatype,
                    "shape": output.shape,
                    "parameters": {"binary_data_size": len(binary[-1])},
                }
            )
        else:
            tensors.append(output.as_dict())
    header = orjson.dumps({**answer, "outputs": tensors})
    if not binary:
        return Response(header, media_type=JSON, headers=headers)
    headers["Inference-Header-Content-Length"] = str(len(header))
    return Response(
        b"".join([header, *binary]), media_type="application/octet-stream", headers=headers
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
