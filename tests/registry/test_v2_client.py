"""A real Open Inference Protocol client (tritonclient[http]) against a real mlapi process."""

from __future__ import annotations

import json
import struct
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


def _predicted(service: MlapiProcess) -> tuple[np.ndarray, list[str]]:
    rows = httpx.post(f"{service.url}/predict", json={"text": TEXTS}).json()["predictions"]
    scores = np.array([[e["score"] for e in row] for row in rows])
    return scores, [max(row, key=lambda e: e["score"])["label"] for row in rows]


def test_tritonclient_defaults_use_binary_tensors(
    client: triton.InferenceServerClient, service: MlapiProcess
) -> None:
    """`set_data_from_numpy` and `InferRequestedOutput` as shipped: binary both ways."""
    text = triton.InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array(TEXTS, dtype=object))
    outputs = [triton.InferRequestedOutput("probabilities"), triton.InferRequestedOutput("label")]
    result = client.infer("default", [text], outputs=outputs)
    response = result.get_response()
    assert all("binary_data_size" in o["parameters"] for o in response["outputs"])
    scores, labels = _predicted(service)
    probs = result.as_numpy("probabilities")
    assert probs.dtype == np.float32 and probs.shape == (3, 2)
    assert np.allclose(probs, scores, atol=1e-6)
    assert [label.decode() for label in result.as_numpy("label")] == labels


def test_no_outputs_named_answers_every_output_in_binary(
    client: triton.InferenceServerClient, service: MlapiProcess
) -> None:
    text = triton.InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_))
    result = client.infer("default", [text])  # tritonclient sends binary_data_output: true
    assert [o["name"] for o in result.get_response()["outputs"]] == ["probabilities", "label"]
    assert np.allclose(result.as_numpy("probabilities"), _predicted(service)[0], atol=1e-6)


def test_binary_input_with_json_output(
    client: triton.InferenceServerClient, service: MlapiProcess
) -> None:
    text = triton.InferInput("text", [len(TEXTS)], "BYTES")
    text.set_data_from_numpy(np.array(TEXTS, dtype=object))
    outputs = [triton.InferRequestedOutput("label", binary_data=False)]
    result = client.infer("default", [text], outputs=outputs)
    (output,) = result.get_response()["outputs"]
    assert output["data"] == _predicted(service)[1]


def _binary_post(service: MlapiProcess, header: dict[str, object], tail: bytes) -> httpx.Response:
    head = json.dumps(header).encode()
    return httpx.post(
        f"{service.url}/v2/models/default/infer",
        content=head + tail,
        headers={"Inference-Header-Content-Length": str(len(head))},
    )


def _bytes_tensor(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


@pytest.mark.parametrize(
    ("size", "tail", "says"),
    [
        (8, _bytes_tensor(b"hello"), "runs past"),  # binary_data_size past the body
        (6, _bytes_tensor(b"hi") + b"xx", "belong to no input"),
        (6, _bytes_tensor(b"\xff\xfe"), "UTF-8"),
        (6, struct.pack("<I", 9) + b"ab", "runs past its data"),
        (3, b"abc", "element's length"),
    ],
)
def test_malformed_binary_data_is_a_typed_422(
    service: MlapiProcess, size: int, tail: bytes, says: str
) -> None:
    header = {
        "inputs": [
            {
                "name": "text",
                "shape": [1],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": size},
            }
        ]
    }
    answer = _binary_post(service, header, tail)
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["error"]


def test_binary_header_length_and_missing_data_are_checked(service: MlapiProcess) -> None:
    url = f"{service.url}/v2/models/default/infer"
    too_long = httpx.post(url, content=b"{}", headers={"Inference-Header-Content-Length": "99"})
    assert too_long.status_code == 422 and "Inference-Header-Content-Length" in too_long.text
    no_data = _binary_post(
        service, {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES"}]}, b""
    )
    assert no_data.status_code == 422 and "data is required" in no_data.json()["error"]


def test_binary_body_over_the_limit_is_413(service: MlapiProcess) -> None:
    """MLAPI_MAX_BODY_BYTES (1 MB by default) holds for binary tensors too."""
    texts = [b"x" * 9_000] * 120  # ~1.08 MB of binary data
    tail = _bytes_tensor(*texts)
    header = {
        "inputs": [
            {
                "name": "text",
                "shape": [len(texts)],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(tail)},
            }
        ]
    }
    assert _binary_post(service, header, tail).status_code == 413


def test_server_metadata_names_the_binary_extension(client: triton.InferenceServerClient) -> None:
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
