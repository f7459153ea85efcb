"""Every inference route, answered by one pure-ASGI endpoint in front of FastAPI's router.

`match` finds the route with string tests (no router, no dependency solving: in a py-spy
profile under load these cost more of the server's CPU than the model's own path); the
endpoint checks the key and readiness, reads the body within its limit, hands it to the
route's codec (`mlapi.protocols`) and renders every error in that protocol's format. A client
that leaves while sending its body is a 499 in the logs and metrics, not an error. The FastAPI
declarations of these routes (`mlapi.http.declared`) exist for the OpenAPI schema only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mlapi.errors import MLAPIError
from mlapi.http.body import read_body
from mlapi.http.deps import Service, loaded
from mlapi.http.errors import client_gone, render, render_unexpected
from mlapi.protocols import native, openai, tei
from mlapi.protocols.base import Call, Codec
from mlapi.protocols.v2 import codec as v2
from mlapi.serving.dataplane import DataPlane


@dataclass(frozen=True)
class Route:
    template: str  # the `handler` label of the HTTP metrics, as FastAPI names the route
    codec: Codec
    params: Mapping[str, str]


PREDICT = "/predict"
NAMED = "/models/{name}/predict"
EMBED = "/embed"
OPENAI = "/v1/embeddings"
V2_INFER = "/v2/models/{name}/infer"
V2_VERSION_INFER = "/v2/models/{name}/versions/{version}/infer"
TEMPLATES = (PREDICT, NAMED, EMBED, OPENAI, V2_INFER, V2_VERSION_INFER)
ROUTE_KEY = "mlapi.route"
_NO_PARAMS: Mapping[str, str] = {}
_FIXED = {
    PREDICT: Route(PREDICT, native.CODEC, _NO_PARAMS),
    EMBED: Route(EMBED, tei.CODEC, _NO_PARAMS),
    OPENAI: Route(OPENAI, openai.CODEC, _NO_PARAMS),
}


def _segment(value: str) -> bool:
    """FastAPI's `{param}`: one non-empty path segment."""
    return bool(value) and "/" not in value


def match(scope: Scope) -> Route | None:
    """The inference route of a request, or None (FastAPI answers it)."""
    if scope["method"] != "POST":
        return None
    path: str = scope["path"]
    fixed = _FIXED.get(path)
    if fixed is not None:
        return fixed
    if path.startswith("/models/") and path.endswith("/predict"):
        name = path[len("/models/") : -len("/predict")]
        return Route(NAMED, native.CODEC, {"name": name}) if _segment(name) else None
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        parts = path[len("/v2/models/") : -len("/infer")].split("/")
        if len(parts) == 1 and _segment(parts[0]):
            return Route(V2_INFER, v2.CODEC, {"name": parts[0]})
        if len(parts) == 3 and parts[1] == "versions" and all(map(_segment, parts[::2])):
            return Route(V2_VERSION_INFER, v2.CODEC, {"name": parts[0], "version": parts[2]})
    return None


class InferenceEndpoint:
    """The terminal ASGI app for the routes `match` found (set in the scope)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.answer(scope, receive, scope[ROUTE_KEY])
        await response(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, route: Route) -> Response:
        service = self.service
        codec = route.codec
        v2_errors = codec.error_style == "v2"
        try:
            connection = HTTPConnection(scope)
            service.keys.check(connection)
            plane = DataPlane(loaded(service))
            body = await read_body(scope, receive, service.settings.max_body_bytes)
            answer = await codec.handle(Call(body, connection.headers, route.params), plane)
        except MLAPIError as exc:
            return render(exc, v2=v2_errors)
        except ClientDisconnect:  # gone while sending its body: a 499 for logs and metrics
            return client_gone(scope["path"])
        except Exception as exc:
            return render_unexpected(exc, v2=v2_errors)
        return Response(answer.body, media_type=answer.media_type, headers=answer.headers)
