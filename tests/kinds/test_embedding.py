"""Embeddings: equal to sentence-transformers, batched or not; /embed, /v1/embeddings, cache."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from fastapi.testclient import TestClient

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.runtime.embedder import Embedder, SentenceTransformerFolder
from mlapi.settings import Settings
from mlapi.tools.export import export_embedding
from mlapi.tools.synthetic import tiny_sentence_transformer

TEXTS = [
    "I love you.",
    "",
    "the movie was not very good but the actor was great",
    "wood chuck " * 40,
    "émoji 🎉 and more",
    "a",
]


@pytest.fixture(scope="module", params=["mean", "cls", "max"])
def st_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"st-{request.param}") / "model"
    tiny_sentence_transformer(out, pooling=request.param)
    export_embedding(out)
    return out


@pytest.mark.numerics
@pytest.mark.parametrize("runtime", ["torch-fp32", "onnx-fp32"])
def test_vectors_equal_sentence_transformers(st_dir: Path, runtime: str) -> None:
    from sentence_transformers import SentenceTransformer

    want = SentenceTransformer(str(st_dir), device="cpu").encode(TEXTS, batch_size=4)
    folder = SentenceTransformerFolder.read(st_dir)
    model = Embedder(folder, runtime=runtime, threads=1, max_length=None, max_batch_size=64)
    assert model.info.max_length == 64
    assert model.packed == (runtime == "torch-fp32")  # BERT on torch runs unpadded
    from mlapi.runtime.embedder import normalize

    together = normalize(model.predict(TEXTS))
    alone = np.vstack([normalize(model.predict([t])) for t in TEXTS])
    assert np.abs(together - want).max() <= 1e-5
    assert np.abs(alone - want).max() <= 1e-5


@pytest.fixture
def client(st_dir: Path, tmp_path: Path, redis_server: RedisServer) -> Iterator[TestClient]:
    config = tmp_path / "models.yaml"
    config.write_text(f"models:\n  - {{name: minilm, path: {st_dir}, kind: embedding}}\n")
    # fp32: these tests compare with sentence-transformers' own answers to 1e-5 (`auto` may
    # pick a faster variant within the cosine bounds of docs/variants.md)
    settings = Settings(
        models=config,
        variant="torch-fp32",
        trial_dir=None,
        threads=1,
        access_log=False,
        redis_url=redis_server.url,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_embed_like_text_embeddings_inference(client: TestClient, st_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    want = SentenceTransformer(str(st_dir), device="cpu").encode(TEXTS[:3])
    response = client.post("/embed", json={"inputs": TEXTS[:3]})
    assert response.status_code == 200 and response.headers["X-MLAPI-Cache"] == "Miss"
    assert np.abs(np.array(response.json()) - want).max() <= 1e-5
    again = client.post("/embed", json={"inputs": TEXTS[2::-1]})
    assert again.headers["X-MLAPI-Cache"] == "Hit"  # same texts, any order
    single = client.post("/embed", json={"inputs": TEXTS[0]}).json()
    assert np.abs(np.array(single[0]) - want[0]).max() <= 1e-5
    raw = np.array(client.post("/embed", json={"inputs": TEXTS[:1], "normalize": False}).json())
    assert abs(np.linalg.norm(raw) - 1) > 1e-3  # pooled, not unit length
    assert np.abs(raw / np.linalg.norm(raw) - want[0]).max() <= 1e-5


def test_embed_refusals_are_typed(client: TestClient) -> None:
    too_long = client.post("/embed", json={"inputs": ["word " * 200], "truncate": False})
    assert too_long.status_code == 413
    assert too_long.json()["error"]["type"] == "input_too_long"
    assert client.post("/embed", json={"inputs": ["word " * 200]}).status_code == 200
    for body in ({"inputs": []}, {"inputs": [1, 2]}, {"inputs": ["a"], "normalize": "yes"}, {}):
        response = client.post("/embed", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["type"] == "invalid_request"
    assert client.post("/embed", json={"inputs": ["x"] * 2049}).status_code == 422  # OpenAI: 2048


def test_openai_client_unchanged(client: TestClient, st_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    want = SentenceTransformer(str(st_dir), device="cpu").encode(TEXTS[:2])
    api = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client)
    result = api.embeddings.create(model="minilm", input=TEXTS[:2])
    got = np.array([d.embedding for d in result.data])
    assert np.abs(got - want).max() <= 1e-5
    assert [d.index for d in result.data] == [0, 1]
    assert result.usage.prompt_tokens == result.usage.total_tokens > 2
    b64 = client.post(
        "/v1/embeddings", json={"model": "minilm", "input": TEXTS[0], "encoding_format": "base64"}
    ).json()
    vector = np.frombuffer(base64.b64decode(b64["data"][0]["embedding"]), dtype="<f4")
    assert np.abs(vector - want[0]).max() <= 1e-5
    with pytest.raises(openai.NotFoundError):
        api.embeddings.create(model="nope", input="x")
    with pytest.raises(openai.UnprocessableEntityError):
        api.embeddings.create(model="minilm", input="x", dimensions=8)


def test_redis_holds_compact_vectors(client: TestClient, redis_server: RedisServer) -> None:
    import redis

    client.post("/embed", json={"inputs": ["stored compactly"]})
    store = redis.Redis.from_url(redis_server.url)
    [key] = [k for k in store.keys("mlapi:*")]
    assert len(store.get(key) or b"") == 4 + 4 * 32  # token count + float32 vector


def test_every_export_is_served_close_to_fp32(st_dir: Path, tmp_path: Path) -> None:
    from mlapi.kinds.embedding import KIND, decode
    from mlapi.runtime.embedder import normalize
    from mlapi.serving.version import ModelVersion

    reference = None
    for variant in ("onnx-fp32", "onnx-int8", "onnx-int8-mixed", "torch-fp32", "torch-bf16"):
        settings = Settings(variant=variant, trial_dir=None, threads=1, warmup_batches=0)
        servable = KIND.load(ModelVersion(name="m", path=st_dir, kind="embedding"), settings)
        vectors = normalize(decode(servable.run(TEXTS)).values)
        reference = vectors if reference is None else reference
        assert servable.card()["backend"] == variant
        assert (vectors * reference).sum(axis=1).min() > 0.98, variant
    with pytest.raises(ValueError, match="embedding models serve"):
        version = ModelVersion(name="m", path=st_dir, kind="embedding")
        KIND.load(version, Settings(variant="onnx-q8"))
