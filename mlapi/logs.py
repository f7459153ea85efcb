"""JSON-lines logging and the per-request access log middleware."""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlapi.lifecycle import Lifecycle

access_logger = logging.getLogger("mlapi.access")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_UNTRACKED = {"/health", "/ready", "/metrics"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
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
