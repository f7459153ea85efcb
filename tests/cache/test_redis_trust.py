"""Redis holds data, not answers: a cached value is used only when the model could have made it,
and the cache key covers every setting that changes an answer."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.observability import metrics
from mlapi.settings import Settings
from tests.agreement import assert_differ

TEXT = "the plot is thin but the acting carries it"


def scores(body: bytes) -> list[float]:
    return [e["score"] for e in orjson.loads(body)["predictions"][0]]


def rejected() -> float:
    return metrics.REDIS_REJECTED.labels(what="cached value")._value.get()


@pytest.mark.parametrize(
    "forged",
    [
        # Spliced into the response as it stood: a 200 with keys of the attacker's choice.
        b'[{"label":"NEGATIVE","score":0.5}]],"injected":{"owned":true},"x":[[',
        b'[{"label":"NEGATIVE","score":0.9},{"label":"POSITIVE","score":0.9}]',  # not probs
        b'[{"label":"POSITIVE","score":0.1},{"label":"NEGATIVE","score":0.9}]',  # labels swapped
        b'[{"label":"NEGATIVE","score":0.1, "note":1},{"label":"POSITIVE","score":0.9}]',
        b"not json",
    ],
)
def test_a_forged_cache_value_is_a_miss(
    settings: Settings, redis_server: RedisServer, forged: bytes
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_server.url, "cache_size": 0})
    with TestClient(create_app(shared)) as client:
        honest = client.post("/predict", json={"text": [TEXT]})
        store = redis.Redis.from_url(redis_server.url)
        [key] = store.keys("mlapi:*")
        store.set(key, forged)
        before = rejected()
        again = client.post("/predict", json={"text": [TEXT]})
    assert again.status_code == 200
    assert again.headers["x-mlapi-cache"] == "Miss"
    assert set(orjson.loads(again.content)) == {"predictions"}
    assert again.content == honest.content  # recomputed, not forged
    assert rejected() == before + 1


def test_settings_that_change_answers_have_their_own_cache_entries(
    model_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(
        f"""
default: short
models:
  - name: short
    path: {model_dir}
    settings: {{variant: torch-fp32, max_length: 8}}
  - name: long
    path: {model_dir}
    settings: {{variant: torch-fp32, max_length: 128}}
"""
    )
    shared = Settings(
        models=config,
        redis_url=redis_server.url,
        cache_size=0,
        workers=0,
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
    )
    long_text = {"text": [" ".join([TEXT] * 4)]}
    with TestClient(create_app(shared)) as client:
        short = client.post("/models/short/predict", json=long_text)
        long = client.post("/models/long/predict", json=long_text)
        models = {m["name"]: m["card"] for m in client.get("/models").json()["models"]}
    assert short.headers["x-mlapi-cache"] == long.headers["x-mlapi-cache"] == "Miss"
    assert models["short"]["fingerprint"] != models["long"]["fingerprint"]
    assert_differ(scores(short.content), scores(long.content), at_least=1e-4)
