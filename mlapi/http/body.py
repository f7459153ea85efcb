"""Request bodies within a size limit: straight from ASGI `receive` (the inference endpoint),
or through Starlette's public `Request.body()` (the few FastAPI routes that take a raw body).

`BodyLimit` (mlapi.http.middleware.limits) bounds every body before either runs; these checks
hold the route's own limit.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from mlapi.errors import BodyTooLarge
from mlapi.http.middleware.limits import DISCARD_BYTES, body_too_large, discard
from mlapi.validation import byte_count


def too_large(max_bytes: int) -> BodyTooLarge:
    return body_too_large(max_bytes, "MLAPI_MAX_BODY_BYTES")


async def read_body(scope: Scope, receive: Receive, max_bytes: int) -> bytes:
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    size = None if declared is None else byte_count(declared)
    if size is not None and size > max_bytes:
        await discard(receive, DISCARD_BYTES)
        raise too_large(max_bytes)
    chunks: list[bytes] = []
    size, more = 0, True
    while more and size <= max_bytes:  # most bodies come in one message: one turn
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
    if size > max_bytes:
        if more:  # the rest is still coming: read it (up to a bound) so the 413 is seen
            await discard(receive, DISCARD_BYTES - size)
        raise too_large(max_bytes)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def request_body(request: Request, max_bytes: int) -> bytes:
    """A FastAPI route's body (read once, even when a wrapper such as Sentry's read it
    ahead), refused past `max_bytes`."""
    body = await request.body()
    if len(body) > max_bytes:
        raise too_large(max_bytes)
    return body
