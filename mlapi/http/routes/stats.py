"""`/stats`: live figures per model, behind the API key."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request

from mlapi import __version__
from mlapi.fleet.control import Fleet
from mlapi.http.deps import ComponentsDep
from mlapi.http.schemas import ErrorBody
from mlapi.serving.registry import Registry
from mlapi.serving.status import ModelFigures, ServiceStats, UnavailableModel

router = APIRouter(tags=["models"])


@router.get(
    "/stats",
    response_model=ServiceStats,
    summary="Live figures per model (cheap); behind the API key, like the predict routes",
    responses={401: {"model": ErrorBody}},
)
async def stats(request: Request, components: ComponentsDep) -> ServiceStats:
    components.keys.check(request)  # fingerprints, pids and workers are not for anonymous callers
    registry = components.registry
    return ServiceStats(
        service="mlapi",
        version=__version__,
        pid=os.getpid(),
        pod=os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or "",
        uptime_s=round(time.time() - components.started, 3),
        ready=components.ready(),
        inflight_requests=components.lifecycle.inflight,
        default_model=registry.default_name if registry else None,
        models=_models(registry, components.fleet) if registry else {},
    )


def _models(registry: Registry, fleet: Fleet | None) -> dict[str, ModelFigures | UnavailableModel]:
    """Per name: its serving version's figures (with its canary's), or that none is loaded."""
    found: dict[str, ModelFigures | UnavailableModel] = {}
    for name in registry.names():
        status = fleet.status(name) if fleet is not None else None
        serving = registry.serving(name)
        if serving is None:
            found[name] = UnavailableModel(fleet=status)
        else:
            figures = serving.figures(registry.canary(name))
            found[name] = ModelFigures(**dict(figures), fleet=status)
    return found
