"""The count of requests in flight, which the drain waits for (`Lifecycle.inflight`) and an
autoscaler reads per pod (`mlapi_inflight_requests`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mlapi.app.lifecycle import Lifecycle
from mlapi.observability.metrics import INFLIGHT

# Probes and scrapes: they never hold a drain back.
UNTRACKED = frozenset({"/health", "/ready", "/metrics"})


class InFlightMiddleware:
    """Counts every HTTP request but probes and scrapes while it runs."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACKED:
            await self.app(scope, receive, send)
            return
        lifecycle = self.lifecycle
        lifecycle.inflight += 1
        INFLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            lifecycle.inflight -= 1
            INFLIGHT.dec()
