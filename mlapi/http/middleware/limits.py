"""Bounds on every byte a client sends, applied before a request is read or authenticated.

- `BodyLimit` (ASGI): a body over the route's limit is a 413 at once when declared, and as
  soon as the limit is passed when streamed; the key check and parsing never see it.

The head of each request (bytes, time) and its body (time) are bounded by the server's
protocol, `mlapi.http.connection`; uvicorn's own `limit_concurrency` answers 503 beyond
`MLAPI_MAX_CONNECTIONS`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlapi.errors import BodyTooLarge, MLAPIError
from mlapi.http.errors import error_body
from mlapi.validation import byte_count

# A body over the limit is read and dropped up to this size before the 413, so that clients
# that send the whole body before reading (urllib, requests) get the answer, not a reset; past
# it the connection is closed.
DISCARD_BYTES = 8 * 1024 * 1024
TRAIN = "/train"


def body_too_large(limit: int, setting: str) -> BodyTooLarge:
    return BodyTooLarge(
        f"request body is larger than {limit} bytes ({setting})",
        limit=setting.removeprefix("MLAPI_").lower(),
        headers={"Connection": "close"},
    )


class BodyLimit:
    """The layer in front of every route: the body of every request is bounded before anyone
    reads it."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.default = (max_body_bytes, "MLAPI_MAX_BODY_BYTES")
        self.upload = (max(max_body_bytes, max_upload_bytes), "MLAPI_TRAIN_MAX_UPLOAD_BYTES")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.upload if scope["path"] == TRAIN else self.default
        declared = _content_length(scope)
        if declared is None:  # chunked (or no body): counted as it arrives
            await _Bounded(limit, setting, receive, send).run(self.app, scope)
        elif declared > limit:
            await discard(receive, DISCARD_BYTES)
            await _send_error(send, body_too_large(limit, setting))
        else:  # the server holds a body to its declared length
            await self.app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return byte_count(value)
    return None


class _Bounded:
    """A streamed body, counted as the app reads it. Past the limit the app's read fails, and
    whatever the app makes of that (a framework may call it a parse error) is replaced by the
    413."""

    def __init__(self, limit: int, setting: str, receive: Receive, send: Send) -> None:
        self.limit, self.setting = limit, setting
        self._receive, self._send = receive, send
        self.seen = 0
        self.exceeded = False
        self.started = False

    async def run(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception:
            if not self.exceeded:
                raise
        if self.exceeded and not self.started:
            await _send_error(self._send, body_too_large(self.limit, self.setting))

    async def receive(self) -> Message:
        message = await self._receive()
        self.seen += len(message.get("body", b""))
        if self.seen > self.limit:
            self.exceeded = True
            if message.get("more_body", False):
                await discard(self._receive, DISCARD_BYTES)
            raise body_too_large(self.limit, self.setting)
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.started:
            return  # the app's answer to a failed read: the 413 goes out instead
        self.started = True
        await self._send(message)


async def discard(receive: Receive, budget: int) -> None:
    """Reads and drops up to `budget` bytes of a body (never keeps them)."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _error_body(error: MLAPIError) -> bytes:
    """Typed: these limits answer before the route (and its error style) is known."""
    return error_body(error.type, error.message, limit=error.limit)


async def _send_error(send: Send, error: MLAPIError) -> None:
    body = _error_body(error)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
