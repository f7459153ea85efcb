"""`/stats`: live figures per model, behind the API key."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request

from mlapi import __version__
from mlapi.http.deps import ServiceDep
from mlapi.http.schemas import ErrorBody

router = APIRouter()


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
