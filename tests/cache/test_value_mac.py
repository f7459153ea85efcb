"""With a signing key, a cached value carries a MAC bound to its Redis key: a forged value that
the model could have written (valid JSON summing to 1, a finite vector of the right width) is a
miss, counted, computed again and rewritten. Without the key the same forgery is served.
Real `python -m mlapi` processes on a real redis-server."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import MlapiProcess, RedisServer
from mlapi.tools.synthetic import tiny_sentence_transformer
from tests.binaries import require_binary

KEY = "cache-value-signing-key-0123"
PROD = Path(__file__).resolve().parents[2] / ".k8s/overlays/prod/mlapi-configmap-patch.yaml"
TEXT = "the plot is thin but the acting carries it"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis_server = RedisServer(require_binary("redis-server"), tmp_path_factory.mktemp("redis"))
    redis_server.start()
    try:
        yield redis_server
    finally:
        redis_server.stop()


def start(env: dict[str, str], log: Path) -> MlapiProcess:
    base = {"MLAPI_CACHE_SIZE": "0", "MLAPI_THREADS": "1", "MLAPI_TRIAL_DIR": ""}
    process = MlapiProcess({**base, "MLAPI_ACCESS_LOG": "false", **env}, log)
    process.start(timeout=120)
    return process


@pytest.fixture(scope="module")
def signed(
    server: RedisServer, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlapiProcess]:
    """A classifier and an embedding model, Redis with the signing key, no in-process LRU."""
    root = tmp_path_factory.mktemp("signed")
    vectors = tiny_sentence_transformer(root / "minilm")
    config = root / "models.yaml"
    config.write_text(
        f"default: sentiment\nmodels:\n"
        f"  - {{name: sentiment, path: {model_dir}, settings: {{variant: onnx-fp32}}}}\n"
        f"  - {{name: minilm, path: {vectors}, kind: embedding, "
        f"settings: {{variant: torch-fp32}}}}\n"
    )
    env = {
        "MLAPI_MODELS": str(config),
        "MLAPI_MODEL_ROOTS": f"{root},{model_dir.parent}",
        "MLAPI_REDIS_URL": server.url,
        "MLAPI_REDIS_SIGNING_KEY": KEY,
    }
    process = start(env, root / "mlapi.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def store(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        client.close()


def get(store: redis.Redis, key: bytes) -> bytes:
    value = store.get(key)
    assert isinstance(value, bytes), value
    return value


def rejected(process: MlapiProcess) -> float:
    text = httpx.get(f"{process.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mlapi_redis_records_rejected_total" and sample.labels == {
                "what": "cached value"
            }:
                return sample.value
    return 0.0


def fingerprint(process: MlapiProcess, name: str) -> str:
    models = httpx.get(f"{process.url}/models", timeout=10).json()["models"]
    value: str = next(m for m in models if m["name"] == name)["card"]["fingerprint"]
    return value


def stored(store: redis.Redis, process: MlapiProcess, name: str, call: httpx.Request) -> bytes:
    """Sends `call` (one text, not cached yet) and returns the Redis key it was cached under."""
    pattern = f"mlapi:{fingerprint(process, name)}:*"
    before = set(store.keys(pattern))
    with httpx.Client(timeout=30) as client:
        assert client.send(call).status_code == 200
    [key] = set(store.keys(pattern)) - before
    assert isinstance(key, bytes)
    return key


def predict(process: MlapiProcess, text: str) -> httpx.Response:
    response = httpx.post(f"{process.url}/predict", json={"text": [text]}, timeout=30)
    assert response.status_code == 200, response.text
    return response


def swapped(row: bytes) -> bytes:
    """The two scores of a classifier row exchanged: valid JSON, sums to 1, labels in order."""
    first, second = orjson.loads(row)
    first["score"], second["score"] = second["score"], first["score"]
    return orjson.dumps([first, second])


def test_a_swapped_classifier_row_is_recomputed_and_rewritten(
    signed: MlapiProcess, store: redis.Redis
) -> None:
    call = httpx.Request("POST", f"{signed.url}/predict", json={"text": [TEXT]})
    key = stored(store, signed, "sentiment", call)
    honest = predict(signed, TEXT)
    assert honest.headers["x-mlapi-cache"] == "Hit"
    tagged = get(store, key)
    row = orjson.dumps(orjson.loads(honest.content)["predictions"][0])
    assert tagged.endswith(row) and not tagged.startswith(b"[")  # a binary tag, then the row
    other = {"text": ["another text altogether"]}
    other_key = stored(store, signed, "sentiment", httpx.Request("POST", call.url, json=other))
    forgeries = [
        swapped(row),  # no tag at all
        tagged[: len(tagged) - len(row)] + swapped(row),  # the honest tag on the forged row
        get(store, other_key),  # a valid value of another key, copied
    ]
    for forged in forgeries:
        store.set(key, forged)
        before = rejected(signed)
        again = predict(signed, TEXT)
        assert again.headers["x-mlapi-cache"] == "Miss"
        assert again.content == honest.content  # the model's answer, not the forged one
        assert rejected(signed) == before + 1
        assert get(store, key) == tagged  # rewritten with a valid MAC
    assert predict(signed, TEXT).headers["x-mlapi-cache"] == "Hit"


def test_a_replaced_embedding_vector_is_recomputed(
    signed: MlapiProcess, store: redis.Redis
) -> None:
    body = {"model": "minilm", "input": ["a vector worth forging"]}
    call = httpx.Request("POST", f"{signed.url}/v1/embeddings", json=body)
    key = stored(store, signed, "minilm", call)
    honest = httpx.post(f"{signed.url}/v1/embeddings", json=body, timeout=30).json()
    vector = honest["data"][0]["embedding"]
    tagged = get(store, key)
    width = 4 * len(vector)
    forged = struct.pack(f"<{len(vector)}f", *reversed(vector))  # finite, the right width
    store.set(key, tagged[:-width] + forged)
    before = rejected(signed)
    again = httpx.post(f"{signed.url}/v1/embeddings", json=body, timeout=30)
    assert again.status_code == 200 and again.headers["x-mlapi-cache"] == "Miss"
    assert again.json()["data"][0]["embedding"] == vector
    assert rejected(signed) == before + 1
    assert get(store, key) == tagged


def test_without_a_key_a_well_formed_forgery_is_served(
    server: RedisServer, model_dir: Path, tmp_path: Path
) -> None:
    """What docs/security.md says a Redis writer can do when no signing key is set."""
    url = server.url.removesuffix("/0") + "/1"
    process = start(
        {"MLAPI_MODEL_DIR": str(model_dir), "MLAPI_VARIANT": "onnx-fp32", "MLAPI_REDIS_URL": url},
        tmp_path / "mlapi.log",
    )
    store = redis.Redis.from_url(url)
    try:
        call = httpx.Request("POST", f"{process.url}/predict", json={"text": [TEXT]})
        key = stored(store, process, "default", call)
        row = get(store, key)
        store.set(key, swapped(row))
        forged = predict(process, TEXT)
    finally:
        store.close()
        process.stop()
    assert forged.headers["x-mlapi-cache"] == "Hit"
    assert orjson.dumps(orjson.loads(forged.content)["predictions"][0]) == swapped(row)


def test_prod_refuses_redis_without_a_signing_key() -> None:
    """`MLAPI_REQUIRE_SIGNING_KEY` (on in the prod overlay) stops the start, naming the setting."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLAPI_")}
    env = {**clean, "MLAPI_PORT": "1", "MLAPI_REQUIRE_SIGNING_KEY": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "mlapi"],
        env={**env, "MLAPI_REDIS_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    said = [line for line in (result.stdout + result.stderr).splitlines() if "MLAPI_" in line]
    assert len(said) == 1 and "MLAPI_REQUIRE_SIGNING_KEY" in said[0], said
    overlay = yaml.safe_load(PROD.read_text())
    assert overlay["data"]["MLAPI_REQUIRE_SIGNING_KEY"] == "true"
