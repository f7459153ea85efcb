"""Tabular models beside text ones: scikit-learn's answers, typed refusals, no pickles."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from trainer.tabular import train

ADMIN = {"Authorization": "Bearer admin-key"}
ROWS = load_breast_cancer().data[:40]


class NotTrusted:
    """A type skops does not know: a file holding it must not be loaded."""

    def predict_proba(self, x: object) -> object:
        return x


@pytest.fixture(scope="module")
def tabular_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tabular") / "cancer"
    train(out)
    return out


@pytest.fixture
def client(
    tabular_dir: Path, model_dir: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    config = tmp_path / "models.yaml"
    config.write_text(
        f"""
models:
  - {{name: text, path: {model_dir}, settings: {{variant: onnx-fp32}}}}
  - {{name: cancer, path: {tabular_dir}, kind: tabular}}
  - name: cancer-skops
    path: {tabular_dir}
    kind: tabular
    settings: {{tabular_runtime: skops, cache_results: true}}
"""
    )
    settings = Settings(
        models=config,
        admin_keys="admin-key",
        trial_dir=None,
        threads=1,
        model_roots=str(tmp_path_factory.getbasetemp()),  # the folders the tests make
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def probabilities(client: TestClient, model: str, rows: object) -> np.ndarray:
    response = client.post(f"/models/{model}/predict", json={"x": rows})
    assert response.status_code == 200, response.text
    return np.array([[e["score"] for e in row] for row in response.json()["predictions"]])


def test_answers_equal_scikit_learn(client: TestClient, tabular_dir: Path) -> None:
    import skops.io as sio

    want = sio.load(tabular_dir / "model.skops").predict_proba(ROWS)
    assert np.array_equal(probabilities(client, "cancer-skops", ROWS.tolist()), want)
    assert np.abs(probabilities(client, "cancer", ROWS.tolist()) - want).max() <= 1e-6
    labels = json.loads((tabular_dir / "tabular.json").read_text())["classes"]
    first = client.post("/models/cancer/predict", json={"x": ROWS[0].tolist()}).json()
    assert [e["label"] for e in first["predictions"][0]] == labels  # one row, as the seed sends


def test_bad_rows_are_typed_422(client: TestClient) -> None:
    width = ROWS.shape[1]
    for x, needle in (
        ([[1.0] * (width - 1)], "the model takes 30"),
        ([[1.0] * (width - 1) + ["a"]], "must be a number"),
        ([[True] * width], "must be a number"),
        ([[1.0] * (width - 1) + [None]], "must be a number"),
        ([], "non-empty"),
        ("x", "row of numbers"),
    ):
        response = client.post("/models/cancer/predict", json={"x": x})
        assert response.status_code == 422, x
        assert response.json()["error"]["type"] == "invalid_request"
        assert needle in response.json()["error"]["message"]
    assert client.post("/models/cancer/predict", content=b"[1e999]").status_code == 422
    huge = b'{"x": [[' + b",".join([b"1e999"] * width) + b"]]}"  # not finite
    assert client.post("/models/cancer/predict", content=huge).status_code == 422
    assert client.get("/ready").status_code == 200


def test_v2_numeric_tensors(client: TestClient) -> None:
    want = probabilities(client, "cancer", ROWS[:3].tolist())
    for datatype, data in (
        ("FP64", ROWS[:3]),
        ("FP32", ROWS[:3].astype(np.float32)),
        ("INT64", ROWS[:3].astype(int)),
    ):
        body = {
            "inputs": [
                {"name": "x", "shape": [3, 30], "datatype": datatype, "data": data.ravel().tolist()}
            ]
        }
        response = client.post("/v2/models/cancer/infer", json=body)
        assert response.status_code == 200, response.text
        probs = np.array(response.json()["outputs"][0]["data"]).reshape(3, 2)
        if datatype == "FP64":
            assert np.abs(probs - want).max() < 1e-6
    wrong = {"inputs": [{"name": "x", "shape": [1, 29], "datatype": "FP64", "data": [0.0] * 29}]}
    response = client.post("/v2/models/cancer/infer", json=wrong)
    assert response.status_code == 422 and "[N, 30]" in response.json()["error"]


def test_cached_only_when_asked(client: TestClient) -> None:
    row = {"x": [ROWS[5].tolist()]}
    for model, second in (("cancer", "Miss"), ("cancer-skops", "Hit")):
        client.post(f"/models/{model}/predict", json=row)
        assert client.post(f"/models/{model}/predict", json=row).headers["X-MLAPI-Cache"] == second


def test_untrusted_skops_file_is_refused(
    client: TestClient, tabular_dir: Path, tmp_path: Path
) -> None:
    import skops.io as sio

    evil = tmp_path / "evil"
    shutil.copytree(tabular_dir, evil)
    sio.dump(NotTrusted(), evil / "model.skops")
    response = client.post(
        "/models/evil/load",
        json={"path": str(evil), "kind": "tabular", "settings": {"tabular_runtime": "skops"}},
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "model_load_failed"
    assert "untrusted" in response.json()["error"]["message"]


def test_v2_binary_tensors_as_tritonclient_sends_them(client: TestClient) -> None:
    """FP64 rows in the binary extension (tritonclient's default), probabilities back in it."""
    import tritonclient.http as triton

    want = probabilities(client, "cancer", ROWS[:3].tolist())
    x = triton.InferInput("x", [3, 30], "FP64")
    x.set_data_from_numpy(ROWS[:3].astype(np.float64))
    outputs = [triton.InferRequestedOutput("probabilities")]
    body, json_size = triton.InferenceServerClient.generate_request_body([x], outputs=outputs)
    headers = {"Inference-Header-Content-Length": str(json_size)} if json_size else {}
    response = client.post("/v2/models/cancer/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    header = response.headers.get("Inference-Header-Content-Length")
    assert header is not None
    result = triton.InferenceServerClient.parse_response_body(
        response.content, header_length=int(header)
    )
    probs = result.as_numpy("probabilities")
    assert probs.dtype == np.float32 and probs.shape == (3, 2)
    assert np.abs(probs - want).max() < 1e-6
