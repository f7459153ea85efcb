"""The models a replica serves, and the admin API that loads, swaps and rolls them back on
every replica (through the fleet)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from mlapi.http.deps import ComponentsDep, FleetDep, RegistryDep
from mlapi.http.schemas import ErrorBody
from mlapi.serving.status import ModelCard, ModelEntry, ModelList, ModelSummary
from mlapi.serving.version import LoadRequest

router = APIRouter(tags=["models"])


@router.get("/model", response_model=ModelSummary, summary="The default model")
async def model(registry: RegistryDep) -> ModelSummary:
    return registry.default.card()  # answered as the summary: the card's first fields


@router.get("/models", response_model=ModelList, summary="Every model and the version it serves")
async def models(components: ComponentsDep, registry: RegistryDep) -> ModelList:
    """Per model: what this replica serves, and the fleet's desired state beside it."""
    fleet = components.fleet
    entries = []
    for entry in registry.index():
        serving = registry.serving(entry.name)
        entries.append(
            ModelEntry(
                **dict(entry),
                card=serving.card() if serving is not None else None,
                fleet=fleet.status(entry.name) if fleet is not None else None,
            )
        )
    return ModelList(default=registry.default_name, models=entries)


@router.post(
    "/models/{name}/load",
    responses={code: {"model": ErrorBody} for code in (403, 404, 409, 422)},
    summary="Load or replace a model (admin)",
)
async def load(name: str, fleet: FleetDep, body: LoadRequest | None = None) -> ModelCard:
    """Builds and warms the new version beside the old one, then switches; no request fails.
    The fleet's desired state follows: every replica sharing Redis loads it too."""
    deployment = await fleet.load(name, body or LoadRequest())
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
async def rollback(name: str, fleet: FleetDep, body: RollbackRequest | None = None) -> ModelCard:
    deployment = await fleet.rollback(name, (body or RollbackRequest()).version)
    return deployment.card()


class CanaryRequest(LoadRequest):
    """A load beside the serving version, with its share of the texts; its settings are its
    own, not laid over the serving version's."""

    path: str = Field(max_length=4096, description="The canary's model folder.")
    percent: float = Field(description="Share of distinct texts it answers, 0-100.")


@router.post(
    "/models/{name}/canary",
    responses={code: {"model": ErrorBody} for code in (403, 404, 422, 503)},
    summary="Serve a second version to a stable share of texts (admin)",
)
async def canary(name: str, fleet: FleetDep, body: CanaryRequest) -> dict[str, Any]:
    """Each text goes to one version by a stable hash of the text, on every replica."""
    built = await fleet.start_canary(name, body, body.percent)
    return {**built.card().model_dump(), "percent": body.percent}


@router.post(
    "/models/{name}/canary/promote",
    responses={code: {"model": ErrorBody} for code in (403, 404, 503)},
    summary="Serve the canary to every text (admin)",
)
async def promote(name: str, fleet: FleetDep) -> ModelCard:
    return (await fleet.promote(name)).card()


@router.delete(
    "/models/{name}/canary",
    responses={code: {"model": ErrorBody} for code in (403, 404, 503)},
    summary="Stop the canary (admin)",
)
async def abort(name: str, fleet: FleetDep) -> dict[str, str]:
    await fleet.abort(name)
    return {"aborted": name}
