"""The pure-ASGI endpoint that answers every inference route (`mlapi.http.routes.inference`
matches them, in front of FastAPI's router).

It checks the key and readiness, reads the body within its limit, hands it to the route's
codec (`mlapi.protocols`) and renders every error in the route's style. A client that leaves
while sending its body is a 499 in the logs and metrics, not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mlapi.errors import MLAPIError
from mlapi.http.body import read_body
from mlapi.http.deps import Components, loaded
from mlapi.http.errors import client_gone, render, render_unexpected
from mlapi.protocols.base import Call
from mlapi.serving.dataplane import DataPlane

if TYPE_CHECKING:  # the routes module declares its routes with this endpoint
    from mlapi.http.routes.inference import Match

ROUTE_KEY = "mlapi.route"  # the scope's `Match`, set by the layer that matched it


class InferenceEndpoint:
    """The terminal ASGI app for the routes `match` found (set in the scope)."""

    def __init__(self, components: Components) -> None:
        self.components = components

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.answer(scope, receive, scope[ROUTE_KEY])
        await response(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, found: Match) -> Response:
        components = self.components
        route, params = found
        try:
            connection = HTTPConnection(scope)
            components.keys.check(connection)
            plane = DataPlane(loaded(components))
            body = await read_body(scope, receive, components.settings.max_body_bytes)
            answer = await route.codec.handle(Call(body, connection.headers, params), plane)
        except MLAPIError as exc:
            return render(exc, v2=route.v2_errors)
        except ClientDisconnect:  # gone while sending its body: a 499 for logs and metrics
            return client_gone(scope["path"])
        except Exception as exc:
            return render_unexpected(exc, v2=route.v2_errors)
        return Response(answer.body, media_type=answer.media_type, headers=answer.headers)
