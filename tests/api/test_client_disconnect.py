"""A client that closes its connection while sending its body is a 499 in the logs and the
metrics, on every route that reads a body: never an unhandled error, never a 500."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ROUTES = {  # path sent -> the `handler` label of http_requests_total
    "/v2/models/default/infer": "/v2/models/{name}/infer",
    "/v1/embeddings": "/v1/embeddings",
    "/predict": "/predict",  # the fast lane
}


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    log = tmp_path_factory.mktemp("disconnect") / "mlapi.log"
    env = {"MLAPI_MODEL_DIR": str(model_dir), "MLAPI_THREADS": "1", "MLAPI_VARIANT": "onnx-fp32"}
    process = MlapiProcess(env, log)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def half_a_body(service: MlapiProcess, path: str) -> None:
    """Declares 2000 bytes, sends 1000 of them, then closes the connection."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=60) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 2000\r\n\r\n".encode()
            + b'{"text": ["'
            + b"a" * 989
        )


def count(service: MlapiProcess, handler: str, status: int) -> float:
    """http_requests_total for `handler` and `status` (every method)."""
    labels = (f'handler="{handler}"', f'status="{status}"')
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in httpx.get(f"{service.url}/metrics").text.splitlines()
        if line.startswith("http_requests_total{") and all(label in line for label in labels)
    )


@pytest.mark.parametrize("path", list(ROUTES))
def test_disconnect_is_a_499_not_a_500(service: MlapiProcess, path: str) -> None:
    handler = ROUTES[path]
    before = count(service, handler, 499)
    half_a_body(service, path)
    wait_until(lambda: count(service, handler, 499) > before, f"a 499 counted for {path}")
    assert count(service, handler, 500) == 0
    log = service.log_path.read_text()
    assert "client closed the connection before its answer" in log
    assert "unhandled error" not in log
    assert "Exception in ASGI application" not in log
    assert httpx.get(f"{service.url}/ready").status_code == 200
