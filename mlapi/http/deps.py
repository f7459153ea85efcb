"""What the lifespan builds (`Service`) and the FastAPI dependencies that hand it to routes:
the service, a ready registry behind the API key, the admin registry and the fleet behind the
admin key."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from mlapi.app.lifecycle import Lifecycle
from mlapi.errors import NotReady
from mlapi.fleet.control import Fleet
from mlapi.http.auth import AdminChecker, KeyChecker
from mlapi.serving.registry import Registry
from mlapi.settings import Settings


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
