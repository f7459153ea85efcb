"""What the lifespan builds (`Components`, the parts of the running service) and the
FastAPI dependencies that hand them to routes: the components, a ready registry behind the
API key, the admin registry and the fleet behind the admin key."""

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
class Components:
    """What the lifespan builds: settings, lifecycle, key checkers, registry and fleet;
    `registry` is None until the models are loaded."""

    settings: Settings
    lifecycle: Lifecycle
    keys: KeyChecker
    admin: AdminChecker
    registry: Registry | None = None
    fleet: Fleet | None = None
    started: float = field(default_factory=time.time)

    def ready(self) -> bool:
        """Serving, not draining, and every configured model loaded: `/ready`, v2's
        `/v2/health/ready` and `/stats` say the same."""
        return self.lifecycle.serving and self.registry is not None and self.registry.ready()


# Dependencies are `async def`: FastAPI would run plain `def` ones in a thread pool, which
# cost a thread hop per request on the hot path (seen in a py-spy profile).
async def get_components(request: Request) -> Components:
    components = request.app.state.components
    assert isinstance(components, Components)
    return components


def loaded(components: Components) -> Registry:
    if components.registry is None or not components.lifecycle.ready:
        raise NotReady("models are not loaded yet", headers={"Retry-After": "1"})
    return components.registry


async def get_registry(
    request: Request, components: Annotated[Components, Depends(get_components)]
) -> Registry:
    components.keys.check(request)
    return loaded(components)


async def get_admin_registry(
    request: Request, components: Annotated[Components, Depends(get_components)]
) -> Registry:
    components.admin.check(request)
    return loaded(components)


async def get_fleet(
    request: Request, components: Annotated[Components, Depends(get_components)]
) -> Fleet:
    components.admin.check(request)
    loaded(components)
    assert components.fleet is not None  # set with the registry
    return components.fleet


ComponentsDep = Annotated[Components, Depends(get_components)]
FleetDep = Annotated[Fleet, Depends(get_fleet)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
AdminDep = Annotated[Registry, Depends(get_admin_registry)]
