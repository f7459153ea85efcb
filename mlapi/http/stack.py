"""The service's ASGI app: FastAPI under one middleware stack.

Every HTTP request goes through the same layers (`mlapi.http.middleware`), in order: access
log (request ID), in-flight count, HTTP metrics, body limit; then the inference endpoint for
the inference routes and FastAPI's router for the rest. Lifespan events go to FastAPI directly.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from mlapi.http.endpoint import ROUTE_KEY, InferenceEndpoint
from mlapi.http.middleware.metrics import HANDLER_KEY
from mlapi.http.routes.inference import match


class ServiceApp(FastAPI):
    """Set up by `install`; until then (and for lifespan events) plain FastAPI."""

    _stack: ASGIApp | None = None
    _endpoint: ASGIApp | None = None

    def install(self, endpoint: InferenceEndpoint, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        """`wrap` builds the middleware around the app that picks endpoint or router."""
        self._endpoint = endpoint
        self._stack = wrap(self._dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._stack is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # what the metrics' route lookup reads, as FastAPI would set it
        await self._stack(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match(scope)
        if found is None or self._endpoint is None:
            await super().__call__(scope, receive, send)
            return
        scope[HANDLER_KEY], scope[ROUTE_KEY] = found.route.template, found
        await self._endpoint(scope, receive, send)
