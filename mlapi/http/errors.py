"""Errors as HTTP answers: one typed error body, v2's `{"error": "..."}`, one handler set."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mlapi.errors import MLAPIError, NotReady, Overloaded

logger = logging.getLogger("mlapi.errors")
CLIENT_CLOSED = 499  # nginx's "client closed request": nobody reads it, metrics and logs do


def error_response(
    status: int,
    type_: str,
    message: str,
    *,
    limit: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, str] = {"type": type_, "message": message}
    if limit is not None:
        body["limit"] = limit
    return Response(
        orjson.dumps({"error": body}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def is_v2(request: Request) -> bool:
    """Open Inference Protocol routes answer errors as `{"error": "..."}`."""
    return request.url.path.startswith("/v2/") or request.url.path == "/v2"


def v2_error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"error": message}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def render(exc: MLAPIError, *, v2: bool = False) -> Response:
    """The typed error body of `exc` (v2 routes: `{"error": "..."}`); server faults are logged."""
    if exc.status_code >= 500 and not isinstance(exc, Overloaded | NotReady):
        logger.error("request failed: %s", exc.message, exc_info=exc.__cause__ or exc)
    if v2:
        return v2_error_response(exc.status_code, exc.message, exc.headers)
    return error_response(
        exc.status_code, exc.type, exc.message, limit=exc.limit, headers=exc.headers
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
    if v2:
        return v2_error_response(500, "internal error")
    return error_response(500, "internal_error", "internal error")


async def _mlapi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLAPIError)
    return render(exc, v2=is_v2(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    type_ = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    if is_v2(request):
        return v2_error_response(exc.status_code, str(exc.detail), headers)
    return error_response(exc.status_code, type_, str(exc.detail), headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ()))
    if is_v2(request):
        return v2_error_response(422, f"{where}: {first.get('msg')}")
    return error_response(422, "invalid_request", f"{where}: {first.get('msg')}")


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    return client_gone(request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return render_unexpected(exc, v2=is_v2(request))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MLAPIError, _mlapi_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected)
