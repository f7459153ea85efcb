"""One error base, one handler, one typed error body."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

logger = logging.getLogger("mlapi.errors")


class MLAPIError(Exception):
    """An error that becomes `{"error": {"type", "message", "limit"?}}` with `status_code`."""

    status_code = 500
    type = "internal_error"

    def __init__(
        self, message: str, *, limit: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit
        self.headers = headers or {}


class InvalidRequest(MLAPIError):
    status_code = 422
    type = "invalid_request"


class InvalidJSON(MLAPIError):
    status_code = 422
    type = "invalid_json"


class TooManyTexts(MLAPIError):
    status_code = 422
    type = "too_many_texts"


class TextTooLong(MLAPIError):
    status_code = 422
    type = "text_too_long"


class Unauthorized(MLAPIError):
    status_code = 401
    type = "unauthorized"


class BodyTooLarge(MLAPIError):
    status_code = 413
    type = "body_too_large"


class Overloaded(MLAPIError):
    status_code = 503
    type = "overloaded"


class NotReady(MLAPIError):
    status_code = 503
    type = "not_ready"


class ModelFailure(MLAPIError):
    status_code = 500
    type = "model_error"


class ModelUnavailable(RuntimeError):
    """The model folder is missing and could not be fetched; the message says what to do."""


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


async def _mlapi_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLAPIError)
    if exc.status_code >= 500 and not isinstance(exc, Overloaded | NotReady):
        logger.error("request failed: %s", exc.message, exc_info=exc.__cause__ or exc)
    return error_response(
        exc.status_code, exc.type, exc.message, limit=exc.limit, headers=exc.headers
    )


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    type_ = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, type_, str(exc.detail), headers=headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(422, "invalid_request", f"{where}: {first.get('msg')}")


async def _unexpected(_: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MLAPIError, _mlapi_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
