"""`python -m bench.path`: the server's own cost per cached request, through the app's whole
ASGI stack in one process (no sockets, no load generator): microseconds per request for each
inference route. Writes bench/out/path-<stamp>.json. Compare builds by running it on each, in
alternation, on a quiet machine; the best of several rounds is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson

from bench.machine import describe, save
from mlapi.app.factory import create_app
from mlapi.settings import Settings
from mlapi.tools.synthetic import trained_tiny_distilbert

OUT = Path(__file__).resolve().parent / "out"
TEXTS = ["I love this movie", "The plot was awful"]
ROUTES: dict[str, dict[str, Any]] = {
    "/predict": {"text": TEXTS},
    "/models/default/predict": {"text": TEXTS},
    "/v2/models/default/infer": {
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": TEXTS}]
    },
}


def _scope(path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def _measure(app: Any, path: str, body: bytes, count: int, rounds: int) -> list[float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def one() -> None:
        await app(_scope(path, body), receive, send)

    for _ in range(count // 2):  # warm: the texts are cached after the first
        await one()
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            await one()
        timings.append((time.perf_counter() - started) / count * 1e6)
    if set(statuses) != {200}:
        raise RuntimeError(f"{path} answered {sorted(set(statuses))}")
    return timings


async def _run(model: Path, count: int, rounds: int) -> dict[str, Any]:
    settings = Settings(
        model_dir=model, workers=0, threads=1, access_log=False, variant="torch-fp32"
    )
    app = create_app(settings)
    inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    if (await outbox.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")
    try:
        result = {}
        for path, payload in ROUTES.items():
            timings = await _measure(app, path, orjson.dumps(payload), count, rounds)
            result[path] = {"us_per_request": round(min(timings), 2), "rounds": timings}
        return result
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.path", description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model = trained_tiny_distilbert(Path(tmp) / "tiny")
        routes = asyncio.run(_run(model, args.count, args.rounds))
    run = {"machine": describe(), "count": args.count, "routes": routes}
    save(args.out, "path-", run)
    for route, figures in routes.items():
        print(f"{route}: {figures['us_per_request']} us per cached request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
