"""An oversized body gets a 413 that clients which send the whole body first can read."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess

pytestmark = pytest.mark.slow
FIVE_MB = json.dumps({"text": ["x" * 1000] * 5000}).encode()


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    log = tmp_path_factory.mktemp("body") / "mlapi.log"
    process = MlapiProcess(
        {"MLAPI_MODEL_DIR": str(model_dir), "MLAPI_THREADS": "1", "MLAPI_VARIANT": "onnx-fp32"},
        log,
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_urllib_reads_the_413(service: MlapiProcess) -> None:
    request = urllib.request.Request(
        f"{service.url}/predict", data=FIVE_MB, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 413
    assert json.loads(caught.value.read())["error"]["type"] == "body_too_large"


def test_httpx_reads_the_413_and_the_server_keeps_serving(service: MlapiProcess) -> None:
    response = httpx.post(f"{service.url}/predict", content=FIVE_MB, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["limit"] == "max_body_bytes"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        for start in range(0, len(FIVE_MB), 65536):
            yield FIVE_MB[start : start + 65536]

    streamed = httpx.post(f"{service.url}/predict", content=chunks(), timeout=30)
    assert streamed.status_code == 413
    ok = httpx.post(f"{service.url}/predict", json={"text": ["still serving"]}, timeout=30)
    assert ok.status_code == 200


def test_a_body_in_many_chunks_under_the_limit_is_answered(service: MlapiProcess) -> None:
    body = json.dumps({"text": ["chunked " * 20] * 40}).encode()

    def chunks() -> Iterator[bytes]:  # Transfer-Encoding: chunked, many ASGI messages
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = httpx.post(f"{service.url}/predict", content=chunks(), timeout=30)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 40
