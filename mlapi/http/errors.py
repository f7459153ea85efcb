"""Errors as HTTP answers: the one writer of error bodies, in both styles, and one handler set.

mlapi's own routes answer `{"error": {"type", "message", "limit"?}}`; the Open Inference
Protocol routes (every path under `/v2`, `v2_style`) answer `{"error": "..."}`. The body limit
and the header limit answer before any route is known: always the typed body.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mlapi.errors import MLAPIError, NotReady, Overloaded
from mlapi.validation import first_problem

logger = logging.getLogger("mlapi.errors")
CLIENT_CLOSED = 499  # nginx's "client closed request": nobody reads it, metrics and logs do
JSON = "application/json"


def v2_style(path: str) -> bool:
    """Whether a path (or a route template) answers errors as v2's `{"error": "..."}`."""
    return path.startswith("/v2/") or path == "/v2"


def error_body(type_: str, message: str, *, limit: str | None = None, v2: bool = False) -> bytes:
    """The body of an error answer: typed, or v2's `{"error": "..."}` (no type, no limit)."""
    if v2:
        return orjson.dumps({"error": message})
    fields = {"type": type_, "message": message}
    if limit is not None:
        fields["limit"] = limit
    return orjson.dumps({"error": fields})


def error_response(
    status: int,
    type_: str,
    message: str,
    *,
    limit: str | None = None,
    headers: dict[str, str] | None = None,
    v2: bool = False,
) -> Response:
    body = error_body(type_, message, limit=limit, v2=v2)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def render(exc: MLAPIError, *, v2: bool = False) -> Response:
    """The error body of `exc`, in the route's style; server faults are logged."""
    if exc.status_code >= 500 and not isinstance(exc, Overloaded | NotReady):
        logger.error("request failed: %s", exc.message, exc_info=exc.__cause__ or exc)
    return error_response(
        exc.status_code, exc.type, exc.message, limit=exc.limit, headers=exc.headers, v2=v2
    )


def client_gone(path: str) -> Response:
    """The answer to a client that closed its connection before its answer (while sending its
    body): one INFO line and a 499 that the server drops; not an error of the service."""
    logger.info(
        "client closed the connection before its answer",
        extra={"status": CLIENT_CLOSED, "path": path},
    )
    return Response(status_code=CLIENT_CLOSED)


def render_unexpected(exc: Exception, *, v2: bool = False) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error", v2=v2)


async def _mlapi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLAPIError)
    return render(exc, v2=v2_style(request.url.path))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    type_ = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(
        exc.status_code, type_, str(exc.detail), headers=headers, v2=v2_style(request.url.path)
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message = first_problem(exc.errors())
    return error_response(422, "invalid_request", message, v2=v2_style(request.url.path))


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    return client_gone(request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return render_unexpected(exc, v2=v2_style(request.url.path))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MLAPIError, _mlapi_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected)
