"""OpenAI's batch sizes on a real server: up to 2048 inputs a request for embedding models,
LangChain's chunks of 1000, and the body and per-text limits still hold."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from harness.servers import MlapiProcess
from mlapi.tools.synthetic import tiny_sentence_transformer

pytestmark = pytest.mark.slow
CHUNK = 1000  # langchain_openai.OpenAIEmbeddings' default chunk_size


def texts(count: int, start: int = 0) -> list[str]:
    return [f"sentence number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(start, count)]


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    root = tmp_path_factory.mktemp("batches")
    st_dir = tiny_sentence_transformer(root / "minilm")
    config = root / "models.yaml"
    config.write_text(
        f"default: sentiment\nmodels:\n"
        f"  - {{name: sentiment, path: {model_dir}, settings: {{variant: onnx-fp32}}}}\n"
        f"  - {{name: minilm, path: {st_dir}, kind: embedding, "
        f"settings: {{variant: torch-fp32, max_batch_size: 256}}}}\n"
    )
    env = {
        "MLAPI_MODELS": str(config),
        "MLAPI_MODEL_ROOTS": f"{root},{model_dir.parent}",
        "MLAPI_THREADS": "1",
        "MLAPI_TRIAL_DIR": "",
        "MLAPI_ACCESS_LOG": "false",
    }
    process = MlapiProcess(env, root / "mlapi.log")
    process.start(timeout=120)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def api(service: MlapiProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{service.url}/v1", api_key="unused", timeout=120) as client:
        yield client


def vectors(response: openai.types.CreateEmbeddingResponse) -> np.ndarray:
    assert [item.index for item in response.data] == list(range(len(response.data)))
    return np.array([item.embedding for item in response.data], dtype=np.float32)


@pytest.mark.parametrize("count", [CHUNK, 2048])
def test_openai_batch_sizes(api: openai.OpenAI, count: int) -> None:
    sent = texts(count)
    got = vectors(api.embeddings.create(model="minilm", input=sent))
    assert got.shape[0] == count
    alone = vectors(api.embeddings.create(model="minilm", input=[sent[0], sent[-1]]))
    assert np.allclose(got[[0, -1]], alone, atol=1e-5)  # the same vectors, batched or not


def test_more_than_2048_inputs_is_a_typed_422(api: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError, match="MLAPI_MAX_EMBEDDING_TEXTS"):
        api.embeddings.create(model="minilm", input=texts(2049))


def test_langchain_style_chunks(api: openai.OpenAI) -> None:
    """2500 texts as LangChain sends them (chunks of 1000), two of the chunks at once: the
    model's queue holds them (MLAPI_MAX_QUEUE is 1024 by default)."""
    sent = texts(2500)
    chunks = [sent[i : i + CHUNK] for i in range(0, len(sent), CHUNK)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda c: api.embeddings.create(model="minilm", input=c), chunks))
    got = np.vstack([vectors(answer) for answer in answers])
    assert got.shape[0] == len(sent)
    alone = vectors(api.embeddings.create(model="minilm", input=[sent[1500]]))
    assert np.allclose(got[1500], alone[0], atol=1e-5)


def test_body_and_text_limits_still_hold(api: openai.OpenAI, service: MlapiProcess) -> None:
    with pytest.raises(openai.APIStatusError) as too_big:  # ~1.3 MB > MLAPI_MAX_BODY_BYTES
        api.embeddings.create(model="minilm", input=["x" * 600] * 2048)
    assert too_big.value.status_code == 413
    with pytest.raises(openai.UnprocessableEntityError, match="MLAPI_MAX_TEXT_CHARS"):
        api.embeddings.create(model="minilm", input=["fine", "y" * 10_001])


def test_classifiers_keep_max_texts(service: MlapiProcess) -> None:
    url = f"{service.url}/models/sentiment/predict"
    assert httpx.post(url, json={"text": texts(64)}).status_code == 200
    refused = httpx.post(url, json={"text": texts(65)})
    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "too_many_texts"
    assert "MLAPI_MAX_TEXTS" in refused.json()["error"]["message"]
