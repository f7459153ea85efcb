"""A real Open Inference Protocol client (tritonclient[http]) against a real mlapi process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from harness.servers import MlapiProcess

pytestmark = pytest.mark.slow
TEXTS = ["I love you.", "I hate you.", "the movie was not very good"]


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    log = tmp_path_factory.mktemp("v2") / "mlapi.log"
    env = {"MLAPI_MODEL_DIR": str(model_dir), "MLAPI_THREADS": "1", "MLAPI_VARIANT": "onnx-fp32"}
    process = MlapiProcess(env, log)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(service: MlapiProcess) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=f"127.0.0.1:{service.port}")


def test_server_and_model_state(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("default")
    assert client.get_server_metadata()["name"] == "mlapi"
    meta = client.get_model_metadata("default")
    assert meta["name"] == "default" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in meta["outputs"]] == ["probabilities", "label"]


def test_infer_equals_predict(client: triton.InferenceServerClient, service: MlapiProcess) -> None:
    text = triton.InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array(TEXTS, dtype=object), binary_data=False)
    outputs = [
        triton.InferRequestedOutput("probabilities", binary_data=False),
        triton.InferRequestedOutput("label", binary_data=False),
    ]
    result = client.infer("default", [text], outputs=outputs, request_id="r1")
    probs = result.as_numpy("probabilities")
    assert probs.shape == (3, 2)
    predicted = httpx.post(f"{service.url}/predict", json={"text": TEXTS}).json()["predictions"]
    want = np.array([[e["score"] for e in row] for row in predicted])
    assert np.allclose(probs, want, atol=1e-6)  # one cache, one batcher: the same answers
    labels = [str(label) for label in result.as_numpy("label")]
    assert labels == [max(row, key=lambda e: e["score"])["label"] for row in predicted]
    assert result.get_response()["id"] == "r1"


def test_v2_errors_are_v2_bodies(
    client: triton.InferenceServerClient, service: MlapiProcess
) -> None:
    with pytest.raises(InferenceServerException, match="no model named 'nope'"):
        client.get_model_metadata("nope")
    bad = httpx.post(
        f"{service.url}/v2/models/default/infer",
        json={"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["one"]}]},
    )
    assert bad.status_code == 422 and set(bad.json()) == {"error"}
    wrong_version = httpx.get(f"{service.url}/v2/models/default/versions/7")
    assert wrong_version.status_code == 404 and "version" in wrong_version.json()["error"]
    assert httpx.post(f"{service.url}/v2/models/default/infer", content=b"{").status_code == 422
    assert httpx.get(f"{service.url}/ready").status_code == 200
