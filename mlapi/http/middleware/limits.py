"""Bounds on every byte a client sends, applied before a request is read or authenticated.

- `BodyLimit` (ASGI): a body over the route's limit is a 413 at once when declared, and as
  soon as the limit is passed when streamed; the key check and parsing never see it.
- `BoundedHttpToolsProtocol` (uvicorn's httptools protocol): the request line and headers
  are bounded in bytes (431) and in time (the connection is closed), so neither a huge header
  nor a client that never finishes its headers holds memory or a connection.
uvicorn's own `limit_concurrency` answers 503 beyond `MLAPI_MAX_CONNECTIONS`.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mlapi.errors import BodyTooLarge, HeadersTooLarge, MLAPIError
from mlapi.http.errors import error_body

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
            return int(value) if value.isdigit() else None
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


_HEADERS_TOO_LARGE = _error_body(
    HeadersTooLarge(
        "request line and headers are larger than MLAPI_MAX_HEADER_BYTES",
        limit="max_header_bytes",
    )
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head of each request bounded in size and time.

    `configure` sets the bounds (class attributes: uvicorn builds one protocol per
    connection from the class it is given)."""

    max_header_bytes: ClassVar[int] = 65_536
    header_timeout_s: ClassVar[float] = 10.0

    @classmethod
    def configure(cls, max_header_bytes: int, header_timeout_s: float) -> type[HttpToolsProtocol]:
        return type(
            "BoundedHttpTools",
            (cls,),
            {"max_header_bytes": max_header_bytes, "header_timeout_s": header_timeout_s},
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True
        self._refused = False
        self._head_bytes = 0  # received while the head is incomplete (a bound on buffering)
        self._head_size = 0  # the head's own bytes: request target and headers
        self._head_since = self.loop.time()
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout_s, self._check_head
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_head and not self._refused:  # the parser holds an unfinished head
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # the next request on a kept-alive connection
            self._in_head = True
            self._head_bytes = self._head_size = 0
            self._head_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > self.max_header_bytes:  # a head that came in one read
            self._refuse_head()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _check_head(self) -> None:
        """Closes a connection stuck in a request's head; otherwise looks again later."""
        self._head_timer = None
        if self.transport.is_closing():
            return
        waited = self.loop.time() - self._head_since
        if self._in_head and waited >= self.header_timeout_s:
            self.transport.close()
            return
        delay = self.header_timeout_s - waited if self._in_head else self.header_timeout_s
        self._head_timer = self.loop.call_later(max(delay, 0.01), self._check_head)

    def _refuse_head(self) -> None:
        self._in_head = False
        self._refused = True
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(_HEADERS_TOO_LARGE)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + _HEADERS_TOO_LARGE
        )
        self.transport.close()
