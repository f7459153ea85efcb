"""The models a replica serves, and the admin API that loads, swaps and rolls them back on
every replica (through the fleet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from mlapi.fleet.admission import LoadParameters
from mlapi.http.deps import FleetDep, RegistryDep, ServiceDep
from mlapi.http.schemas import ErrorBody, ModelCard

router = APIRouter()


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
