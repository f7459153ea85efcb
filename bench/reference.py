"""The reference design of ../shared/seeds/nlp-deployment-README.md, as a benchmark config.

A transformers `pipeline` in fp32 behind FastAPI, texts classified one after another, whole
responses cached in Redis for 60 s (what `fastapi_redis_cache`'s `cache_one_minute` does: the
key is the request body). `python -m bench.reference MODEL_DIR --port P --redis-url URL`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import Response
from pydantic import BaseModel

TTL_S = 60


class SentimentRequest(BaseModel):
    text: list[str]


class Sentiment(BaseModel):
    label: str
    score: float


class SentimentResponse(BaseModel):
    predictions: list[list[Sentiment]]


def build(model_dir: Path, redis_url: str) -> Any:
    import redis
    from fastapi import FastAPI
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(model_dir), device=-1, top_k=None)
    store = redis.Redis.from_url(redis_url)
    app = FastAPI()

    @app.post("/predict")
    def predict(body: SentimentRequest) -> Any:
        key = "mlapi-cache:" + hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        cached = store.get(key)
        if cached is not None:
            return Response(cached, media_type="application/json", headers={"X-MLAPI-Cache": "Hit"})
        rows = classifier(body.text, truncation=True)  # one text after another (batch 1)
        payload = SentimentResponse(predictions=rows).model_dump_json().encode()
        store.set(key, payload, ex=TTL_S)
        return Response(payload, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app = build(args.model_dir, args.redis_url)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
