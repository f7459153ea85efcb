"""JSON-lines logging: one formatter, and `configure_logging` for the service and its worker
processes (the access log middleware: `mlapi.http.middleware.access_log`)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
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
