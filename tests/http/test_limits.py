"""Every byte a client sends is bounded before it is read: bodies on every route, headers in
size and time, connections in number. Against a real `python -m mlapi` (uvicorn, httptools)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from harness.servers import MlapiProcess
from tests.http.service import light_service
from tests.waiting import wait_until

MB = 1024 * 1024


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    with light_service(
        model_dir,
        tmp_path_factory.mktemp("limits"),
        MLAPI_ADMIN_KEYS="admin-key",
        MLAPI_HEADER_TIMEOUT_S="2",
        MLAPI_MAX_CONNECTIONS="150",
    ) as process:
        yield process


def exchange(port: int, head: bytes, body: Iterable[bytes] = ()) -> bytes:
    """Sends `head` then `body` while reading; returns what the server answered before it
    closed the connection (a writer cut off by the server's close stops quietly)."""
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    answer.extend(chunk)
            except OSError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        try:
            sock.sendall(head)
            for piece in body:
                sock.sendall(piece)
        except OSError:
            pass  # the server closed the connection while the client was still sending
        reader.join(timeout=60)
    return bytes(answer)


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def chunks(total: int, size: int = MB) -> Iterator[bytes]:
    piece = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    for _ in range(total // size):
        yield piece
    yield b"0\r\n\r\n"


def test_declared_300_mb_without_a_key_is_a_413_at_once(service: MlapiProcess) -> None:
    before = service.memory_kib()["VmRSS"]
    started = time.monotonic()
    head = (
        b"POST /models/x/load HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000000\r\n\r\n"
    )
    answer = exchange(service.port, head, (b"x" * MB for _ in range(300)))
    assert status(answer) == 413, answer[:300]
    assert b'"type":"body_too_large"' in answer and b"MLAPI_MAX_BODY_BYTES" in answer
    assert time.monotonic() - started < 10
    assert service.memory_kib()["VmHWM"] - before < 50 * 1024  # KiB: the body was never held


def test_chunked_300_mb_without_a_key_is_a_413(service: MlapiProcess) -> None:
    before = service.memory_kib()["VmRSS"]
    head = (
        b"POST /models/x/load HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = exchange(service.port, head, chunks(300 * MB))
    assert status(answer) == 413, answer[:300]
    assert service.memory_kib()["VmHWM"] - before < 50 * 1024
    assert httpx.get(f"{service.url}/ready").status_code == 200


def test_a_1_mb_header_is_a_431_and_the_service_serves_on(service: MlapiProcess) -> None:
    before = service.memory_kib()["VmRSS"]
    head = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * MB + b"\r\n\r\n"
    answer = exchange(service.port, head)
    assert status(answer) == 431, answer[:300]
    assert b'"type":"headers_too_large"' in answer
    assert service.memory_kib()["VmHWM"] - before < 50 * 1024
    assert httpx.get(f"{service.url}/health").status_code == 200


def test_half_sent_requests_are_closed_while_predict_answers(service: MlapiProcess) -> None:
    sockets = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(100)]
    try:
        for sock in sockets:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # never finished
        response = httpx.post(
            f"{service.url}/predict",
            json={"text": ["still serving"]},
            headers={"X-API-Key": "user-key"},
        )
        assert response.status_code == 200, response.text
        for sock in sockets:
            sock.settimeout(0)

        def closed(sock: socket.socket) -> bool:
            try:
                return sock.recv(1) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True

        wait_until(
            lambda: all(closed(sock) for sock in sockets),
            "close of 100 half-sent requests (MLAPI_HEADER_TIMEOUT_S=2)",
        )
    finally:
        for sock in sockets:
            sock.close()


def test_connections_past_the_limit_get_503(service: MlapiProcess) -> None:
    idle = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(150)]
    try:
        assert httpx.get(f"{service.url}/health").status_code == 503
    finally:
        for sock in idle:
            sock.close()
    wait_until(
        lambda: httpx.get(f"{service.url}/health").status_code == 200,
        "a 200 once the idle connections are gone",
    )


@pytest.mark.parametrize(
    ("method", "path", "limit"),
    [
        ("POST", "/models/default/load", "MLAPI_MAX_BODY_BYTES"),
        ("POST", "/v2/repository/models/x/load", "MLAPI_MAX_BODY_BYTES"),
        ("POST", "/v2/models/default/infer", "MLAPI_MAX_BODY_BYTES"),
        ("POST", "/v1/embeddings", "MLAPI_MAX_BODY_BYTES"),
        ("POST", "/predict", "MLAPI_MAX_BODY_BYTES"),
        ("POST", "/train", "MLAPI_TRAIN_MAX_UPLOAD_BYTES"),
    ],
)
def test_every_route_has_the_body_limit_before_its_key_check(
    client: TestClient, method: str, path: str, limit: str
) -> None:
    body = b"x" * 12_000_000  # over both limits' defaults
    response = client.request(method, path, content=body)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["type"] == "body_too_large" and limit in error["message"]
