"""JSON-lines logging and the per-request access log middleware."""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson

from mlapi.app.lifecycle import Lifecycle

if TYPE_CHECKING:  # a worker process imports this module: no Starlette at run time
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("mlapi.access")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_UNTRACKED = {"/health", "/ready", "/metrics"}
# uvicorn's copy of each message with ANSI colour codes: noise in a JSON line.
_DROPPED = {"color_message"}


def expected_errors() -> tuple[type[BaseException], ...]:
    """Failures of the world around the service (network, files, Redis, a model folder), not
    of its code: logged as one line; their tracebacks only at DEBUG."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from mlapi.errors import ModelUnavailable

    return (OSError, RedisConnectionError, RedisTimeoutError, ModelUnavailable)


class JSONFormatter(logging.Formatter):
    """One JSON object per line. Tracebacks of expected errors only when `debug`."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__()
        self.debug = debug
        self.expected = expected_errors()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in _DROPPED:
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if self.debug or not isinstance(exc, self.expected):
                line["exc"] = self.formatException(record.exc_info)
            else:
                line["error"] = f"{type(exc).__name__}: {exc}"
        return orjson.dumps(line, default=str).decode()


class _StartupTraceback(logging.Filter):
    """uvicorn logs a failed lifespan as `traceback.format_exc()` in the message: keep its
    last line (the exception) unless at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Traceback (most recent call last)"):
            lines = [line for line in message.splitlines() if line.strip()]
            record.msg, record.args = (lines[-1] if lines else message), None
        return True


def configure_logging(level: str) -> None:
    debug = level.upper() == "DEBUG"
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter(debug=debug))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).filters[:] = [] if debug else [_StartupTraceback()]
    logging.getLogger("uvicorn.access").disabled = True


class AccessLogMiddleware:
    """Echoes or makes `X-Request-ID`, counts in-flight requests, logs one line per request."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle, enabled: bool = True) -> None:
        self.app = app
        self.lifecycle = lifecycle
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        if not request_id:  # an ID to correlate lines, not a secret: no syscall per request
            request_id = f"{random.getrandbits(64):016x}"
        status = 500
        cache = ""
        tracked = scope["path"] not in _UNTRACKED

        async def send_wrapper(message: Message) -> None:
            nonlocal status, cache
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name == b"x-mlapi-cache":
                        cache = value.decode()
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        if tracked:
            self.lifecycle.inflight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if tracked:
                self.lifecycle.inflight -= 1
            if self.enabled:
                access_logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                        "cache": cache,
                        "request_id": request_id,
                    },
                )
