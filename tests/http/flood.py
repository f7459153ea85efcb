"""Clients that send maximal requests, for the probe-latency test (light: spawned processes
import only this)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from multiprocessing.queues import Queue

import httpx

from mlapi.tools.synthetic import WORDS

MAX_CHARS = 10_000  # MLAPI_MAX_TEXT_CHARS's default
MAX_TEXTS = 64  # MLAPI_MAX_TEXTS's default
TAG = 12  # characters of each text that make it new


def long_text(rng: random.Random, tag: str) -> str:
    """`MAX_CHARS` characters of words, unicode included, unique by `tag`."""
    words = [*WORDS, "naïve", "東京", "😀", "x-ray,", "don't"]
    text = tag + " " + " ".join(rng.choices(words, k=MAX_CHARS // 3))
    return text[:MAX_CHARS]


def flood(url: str, seconds: float, client: int, events: Queue[tuple[str, int]]) -> None:
    """One client sending requests of `MAX_TEXTS` new texts of `MAX_CHARS` for `seconds`:
    says ("ready", client) when it starts, then ("answered", how many were 200). Each text
    starts with a tag new to every request (no cache hits); the rest of the body is made once,
    so the client spends its time waiting, not building bodies."""
    os.nice(10)  # the clients stand for machines elsewhere: the server's CPU comes first
    rng = random.Random(client)
    tails = [json.dumps(long_text(rng, "")[TAG:])[1:].encode() for _ in range(MAX_TEXTS)]
    answered = 0
    events.put(("ready", client))
    until = time.monotonic() + seconds
    with httpx.Client(timeout=60) as http:
        request = 0
        while time.monotonic() < until:
            texts = (b'"%012d%s' % (request * MAX_TEXTS + i, tail) for i, tail in enumerate(tails))
            body = b'{"text":[' + b",".join(texts) + b"]}"
            response = http.post(
                f"{url}/predict",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            answered += response.status_code == 200
            request += 1
    events.put(("answered", answered))


def control(events: Queue[tuple[str, int]]) -> None:
    """An HTTP server whose event loop does nothing else: what this machine's load alone
    costs a probe. Says ("port", its port), then serves until it is terminated."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        events.put(("port", server.sockets[0].getsockname()[1]))
        await server.serve_forever()

    asyncio.run(serve())
