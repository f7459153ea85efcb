"""HTTP metrics as one pure-ASGI middleware (the series: `mlapi.observability.metrics`).

The middleware costs a few microseconds a request: labelled children are looked up once and
kept. `handler` is the route template, set by the layer that matched an inference route or
looked up in FastAPI's routes; `/metrics` itself is not counted.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_fastapi_instrumentator.routing import get_route_name
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlapi.observability.metrics import (
    HTTP_DURATION,
    HTTP_DURATION_HIGHR,
    HTTP_REQUEST_SIZE,
    HTTP_RESPONSE_SIZE,
    HTTP_TOTAL,
)
from mlapi.validation import byte_count

# Set by a layer that already knows the route template (the fast lane), read here.
HANDLER_KEY = "mlapi.handler"
EXCLUDED = frozenset({"/metrics"})
# Any other method is counted as "other": clients must not be able to mint series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _content_length(headers: Any) -> int:
    for name, value in headers:
        if name == b"content-length":
            return byte_count(value) or 0
    return 0


class _Series:
    """The labelled children of one (handler, method, status), looked up once."""

    __slots__ = ("total", "duration", "request_size", "response_size")

    def __init__(self, handler: str, method: str, status: str) -> None:
        self.total = HTTP_TOTAL.labels(method=method, status=status, handler=handler)
        self.duration = HTTP_DURATION.labels(handler=handler, method=method)
        self.request_size = HTTP_REQUEST_SIZE.labels(handler=handler)
        self.response_size = HTTP_RESPONSE_SIZE.labels(handler=handler)


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, str, int], _Series] = {}
        self._static: dict[tuple[str, str], str] = {}  # paths that are their own template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_size = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_size
            if message["type"] == "http.response.start":
                status = message["status"]
                response_size = _content_length(message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            handler = scope.get(HANDLER_KEY) or self._route_name(scope)
            if handler not in EXCLUDED:
                self._observe(handler or "none", scope, status, seconds, response_size)

    def _route_name(self, scope: Scope) -> str | None:
        """The route template of a request no layer named. A path that is its own template
        (`/health`, `/ready`: no path parameters) is remembered; the lookup walks every route
        (in a py-spy profile under k6's cold profile, a few % of the server's CPU, from the
        probe each iteration sends). Only templates are kept, by method (a route may match
        one method and not another): a bounded number of entries whatever the clients send."""
        key = (scope["method"], scope["path"])
        known = self._static.get(key)
        if known is not None:
            return known
        handler = get_route_name(HTTPConnection(scope), should_include_root_path=False)
        if handler is not None and handler == key[1] and key[0] in METHODS:
            self._static[key] = handler
        return handler

    def _observe(
        self, handler: str, scope: Scope, status: int, seconds: float, response_size: int
    ) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        key = (handler, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(handler, method, str(status))
        series.total.inc()
        series.duration.observe(seconds)
        HTTP_DURATION_HIGHR.observe(seconds)
        series.request_size.observe(_content_length(scope["headers"]))
        series.response_size.observe(response_size)
