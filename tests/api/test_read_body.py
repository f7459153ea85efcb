"""Bodies within a limit: from ASGI `receive`, or a FastAPI route's body read ahead."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

from mlapi.errors import BodyTooLarge
from mlapi.http.body import read_body, request_body

SCOPE: Scope = {"type": "http", "method": "POST", "headers": []}


def _receive(chunks: list[bytes]) -> Receive:
    messages: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # like a live connection: nothing more ever comes
        raise AssertionError

    return receive


def test_one_message_and_many() -> None:
    assert asyncio.run(read_body(SCOPE, _receive([b'{"text": []}']), 100)) == b'{"text": []}'
    assert asyncio.run(read_body(SCOPE, _receive([b"ab", b"", b"cd"]), 100)) == b"abcd"
    for chunks in ([b"ab", b"cd"], [b"abcd", b"ef", b"gh"]):  # over at the end; midway
        with pytest.raises(BodyTooLarge):  # and no wait for a body that has ended
            asyncio.run(asyncio.wait_for(read_body(SCOPE, _receive(chunks), 3), 5))


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    scope = {**SCOPE, "headers": [(b"content-length", b"1000")]}
    with pytest.raises(BodyTooLarge):
        asyncio.run(asyncio.wait_for(read_body(scope, _receive([b"x" * 10]), 100), 5))


def test_a_body_read_ahead_is_used_not_waited_for() -> None:
    async def scenario() -> bytes:
        request = Request(SCOPE, _receive([b"read ", b"ahead"]))
        await request.body()  # what Sentry's FastAPI integration does before the endpoint
        return await asyncio.wait_for(request_body(request, 100), 5)

    assert asyncio.run(scenario()) == b"read ahead"
    with pytest.raises(BodyTooLarge):
        asyncio.run(request_body(Request(SCOPE, _receive([b"x" * 10])), 3))
