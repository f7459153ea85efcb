"""The inference routes, one table: `match` (the fast lane in front of FastAPI's router) and
their FastAPI declarations (the OpenAPI schema) are both made from it.

`match` finds a route with string tests (no regex, no router, no dependency solving: in a
py-spy profile under load these cost more of the server's CPU than the model's own path).
`mlapi.http.endpoint` answers what it finds; a declaration reached anyway (an app mounted
without the service's stack) hands its request to the same endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Scope

from mlapi.http.endpoint import InferenceEndpoint
from mlapi.http.errors import v2_style
from mlapi.http.schemas import ErrorBody, PredictRequest, PredictResponse
from mlapi.protocols import native, openai, tei
from mlapi.protocols.base import Codec
from mlapi.protocols.v2 import codec as v2
from mlapi.protocols.v2.request import InferRequest


@dataclass(frozen=True)
class InferenceRoute:
    """One POST route answered by a protocol's codec. `template` is FastAPI's path (its
    `{param}`s are path segments) and the `handler` label of the HTTP metrics."""

    template: str
    codec: Codec
    tag: str
    summary: str
    description: str | None = None
    request_schema: dict[str, Any] | None = None  # the OpenAPI body; None: none declared
    response_model: type[BaseModel] | None = None
    params: tuple[str, ...] = field(init=False)
    v2_errors: bool = field(init=False)  # errors as `{"error": "..."}` (`v2_style`)

    def __post_init__(self) -> None:
        parts = self.template.split("/")
        params = tuple(part[1:-1] for part in parts if part.startswith("{"))
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "v2_errors", v2_style(self.template))


class Match(NamedTuple):
    """A request's route and its path parameters."""

    route: InferenceRoute
    params: Mapping[str, str]


PREDICT = "/predict"
NAMED = "/models/{name}/predict"
EMBED = "/embed"
OPENAI = "/v1/embeddings"
V2_INFER = "/v2/models/{name}/infer"
V2_VERSION_INFER = "/v2/models/{name}/versions/{version}/infer"
_V2_BODY = InferRequest.model_json_schema()
ROUTES = (
    InferenceRoute(
        PREDICT,
        native.CODEC,
        "inference",
        "Classify texts with the default model",
        description="One list of `{label, score}` per text, labels in the model's id order.",
        request_schema=PredictRequest.model_json_schema(),
        response_model=PredictResponse,
    ),
    InferenceRoute(
        NAMED,
        native.CODEC,
        "inference",
        "Predict with a named model",
        description="The body and answer of the model's capability: texts for a classifier (as "
        '`/predict`), `{"x": [[...], ...]}` for a tabular model, `/embed`\'s body for an '
        "embedding model.",
    ),
    InferenceRoute(
        EMBED,
        tei.CODEC,
        "embeddings",
        "Embed texts with the first embedding model",
        description='`{"inputs": "..." | ["..."], "normalize": true, "truncate": true}` -> '
        "`[[...], ...]`.",
    ),
    InferenceRoute(OPENAI, openai.CODEC, "embeddings", "OpenAI-compatible embeddings"),
    InferenceRoute(V2_INFER, v2.CODEC, "v2", "Inference", request_schema=_V2_BODY),
    InferenceRoute(V2_VERSION_INFER, v2.CODEC, "v2", "Inference", request_schema=_V2_BODY),
)
TEMPLATES = tuple(route.template for route in ROUTES)


class _Shape:
    """A template with parameters, as `match` tests it: its literal segments and its
    parameters (each one non-empty segment: FastAPI's `{param}`), by index in the path's
    `/`-separated parts."""

    __slots__ = ("route", "literals", "names")

    def __init__(self, route: InferenceRoute, parts: list[str]) -> None:
        self.route = route
        self.literals = tuple((i, s) for i, s in enumerate(parts) if not s.startswith("{"))
        self.names = tuple((i, s[1:-1]) for i, s in enumerate(parts) if s.startswith("{"))

    def bind(self, parts: list[str]) -> Match | None:
        for i, literal in self.literals:
            if parts[i] != literal:
                return None
        params: dict[str, str] = {}
        for i, name in self.names:
            part = parts[i]
            if not part:
                return None
            params[name] = part
        return Match(self.route, params)


def _index(
    routes: tuple[InferenceRoute, ...],
) -> tuple[dict[str, Match], dict[tuple[int, str, str], list[_Shape]]]:
    """Templates without parameters, found by one dict lookup; the others by their number of
    segments, first segment and last segment (literals: a template must begin and end with
    one), then tested segment by segment."""
    fixed: dict[str, Match] = {}
    shapes: dict[tuple[int, str, str], list[_Shape]] = {}
    for route in routes:
        if not route.params:
            fixed[route.template] = Match(route, {})
            continue
        parts = route.template.split("/")
        if parts[1].startswith("{") or parts[-1].startswith("{"):
            raise ValueError(f"{route.template}: begins or ends with a parameter")
        shapes.setdefault((len(parts), parts[1], parts[-1]), []).append(_Shape(route, parts))
    return fixed, shapes


_FIXED, _SHAPES = _index(ROUTES)


def match(scope: Scope) -> Match | None:
    """The inference route of a request, or None (FastAPI answers it)."""
    if scope["method"] != "POST":
        return None
    path: str = scope["path"]
    fixed = _FIXED.get(path)
    if fixed is not None:
        return fixed
    parts = path.split("/")  # an ASGI path begins with "/": parts[0] == ""
    for shape in _SHAPES.get((len(parts), parts[1], parts[-1]), ()):
        found = shape.bind(parts)
        if found is not None:
            return found
    return None


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 404, 413, 422, 500, 503)
}


async def _answer(request: Request) -> Response:
    found = match(request.scope)
    assert found is not None  # declared here, so matched there (a test holds them together)
    answering = InferenceEndpoint(request.app.state.components)
    return await answering.answer(request.scope, request.receive, found)


async def _named(name: str, request: Request) -> Response:
    return await _answer(request)


async def _versioned(name: str, version: str, request: Request) -> Response:
    return await _answer(request)


# FastAPI reads a route's path parameters (for the schema) from its handler's signature.
_HANDLERS: dict[tuple[str, ...], Callable[..., Awaitable[Response]]] = {
    (): _answer,
    ("name",): _named,
    ("name", "version"): _versioned,
}


def _body(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


router = APIRouter()
for _route in ROUTES:
    router.add_api_route(
        _route.template,
        _HANDLERS[_route.params],
        methods=["POST"],
        response_model=_route.response_model,
        responses=None if _route.v2_errors else _ERRORS,  # v2's errors are plain strings
        openapi_extra=_body(_route.request_schema),
        summary=_route.summary,
        description=_route.description,
        tags=[_route.tag],
    )
