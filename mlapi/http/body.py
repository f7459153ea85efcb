"""Reads a request body within MLAPI_MAX_BODY_BYTES."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from mlapi.errors import BodyTooLarge
from mlapi.http.limits import DISCARD_BYTES, discard


async def read_body(request: Request, max_bytes: int) -> bytes:
    too_large = BodyTooLarge(
        f"request body is larger than {max_bytes} bytes (MLAPI_MAX_BODY_BYTES)",
        limit="max_body_bytes",
        headers={"Connection": "close"},
    )
    # Read ahead already (Sentry's FastAPI integration reads bodies for its events): Starlette
    # keeps it on the request, and `receive` has nothing more to give.
    cached: bytes | None = getattr(request, "_body", None)
    if cached is not None:
        if len(cached) > max_bytes:
            raise too_large
        return cached
    receive = request.receive
    declared = next((v for k, v in request.scope["headers"] if k == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        await discard(receive, DISCARD_BYTES)
        raise too_large
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
        raise too_large
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
