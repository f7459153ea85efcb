"""The predict routes answered as plain ASGI, before FastAPI's router.

`POST /predict` and `POST /models/{name}/predict` carry nearly all of the traffic. Through
FastAPI each one paid for route matching, dependency solving and five layers of middleware: in
a py-spy profile of the 400-connection stress test that took more of the server's CPU than the
model's own path. The fast lane matches these two paths with string tests and runs the same
code the routes run (`routes.serve`: the key check, the readiness check, the kind's parser, the
registry's cache and batcher, the typed error bodies). The FastAPI routes stay declared: they
are the OpenAPI schema, and they answer if the fast lane is not in the stack. Every other
method and path goes on to FastAPI unchanged (a GET on /predict still gets its 405).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mlapi.errors import MLAPIError
from mlapi.http.errors import client_gone, render, render_unexpected
from mlapi.http_metrics import HANDLER_KEY
from mlapi.routes import Service, loaded, serve

PREDICT = "/predict"
NAMED = "/models/{name}/predict"
_PREFIX, _SUFFIX = "/models/", "/predict"
NAME_KEY = "mlapi.model"


def match(scope: Scope) -> tuple[str, str | None] | None:
    """(route template, model name or None for the default) when the fast lane answers."""
    if scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if path == PREDICT:
        return PREDICT, None
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        name = path[len(_PREFIX) : -len(_SUFFIX)]
        if name and "/" not in name:  # FastAPI's `{name}`: one non-empty path segment
            return NAMED, name
    return None


class FastLane:
    """The terminal ASGI app of the fast stack: answers the route `match` found."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._answer(Request(scope, receive), scope[NAME_KEY])
        await response(scope, receive, send)

    async def _answer(self, request: Request, name: str | None) -> Response:
        service = self.service
        try:
            service.keys.check(request)
            registry = loaded(service)
            deployment = registry.default if name is None else registry.get(name)
            return await serve(request, deployment, service.settings)
        except MLAPIError as exc:
            return render(exc)
        except ClientDisconnect:  # gone while sending its body: a 499 for logs and metrics
            return client_gone(request.url.path)
        except Exception as exc:  # the FastAPI path's catch-all, with the same body and log
            return render_unexpected(exc)


class FastLaneApp(FastAPI):
    """FastAPI, with the predict routes sent to `fast_stack` before its own middleware stack.

    `fast_stack` is the fast lane under the same access-log and metrics middleware that the
    regular stack has (`create_app` builds both), so a request is logged, counted and given its
    `X-Request-ID` alike on either path.
    """

    fast_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = self.fast_stack
        if stack is not None and scope["type"] == "http" and (route := match(scope)) is not None:
            scope["app"] = self
            scope[HANDLER_KEY], scope[NAME_KEY] = route
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
