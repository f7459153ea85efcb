"""Request bodies bounded in time, answers before the body closes the connection, and the
probe listener outside the connection limit. Against a real `python -m mlapi`."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from harness.servers import MlapiProcess, free_port
from mlapi.http.connection import LINGER_S
from mlapi.settings.serving import ServingSettings
from tests.http.service import light_service

IDLE_S, TOTAL_S = 2.0, 8.0
LIMIT = 40  # MLAPI_MAX_CONNECTIONS


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    with light_service(
        model_dir,
        tmp_path_factory.mktemp("body-timeouts"),
        MLAPI_BODY_IDLE_TIMEOUT_S=str(IDLE_S),
        MLAPI_BODY_TIMEOUT_S=str(TOTAL_S),
        MLAPI_MAX_CONNECTIONS=str(LIMIT),
        MLAPI_PROBE_PORT=str(free_port()),
    ) as process:
        yield process


def probe_port(service: MlapiProcess) -> int:
    return int(service.env["MLAPI_PROBE_PORT"])


def head(length: int, key: bool = True, path: str = "/predict") -> bytes:
    auth = b"X-API-Key: user-key\r\n" if key else b""
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n".encode()
        + auth
        + f"Content-Length: {length}\r\n\r\n".encode()
    )


def read_until_closed(sock: socket.socket, deadline_s: float, trickle_s: float = 0) -> bytes:
    """What the server sends until it closes; meanwhile a byte of body every `trickle_s`
    (0: none). Fails if the connection is still open after `deadline_s`."""
    answer = bytearray()
    end = time.monotonic() + deadline_s
    sock.settimeout(trickle_s or 0.2)
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if trickle_s:
                try:
                    sock.sendall(b" ")
                except OSError:  # closed by the server meanwhile: read what it said
                    trickle_s = 0
                    sock.settimeout(0.2)
            continue
        except OSError:
            return bytes(answer)
        if not chunk:
            return bytes(answer)
        answer.extend(chunk)
    raise AssertionError(f"still open after {deadline_s} s; got {bytes(answer)[:200]!r}")


def test_a_stalled_body_is_a_408_and_closed(service: MlapiProcess) -> None:
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        sock.sendall(head(100) + b'{"text": ["half')
        started = time.monotonic()
        answer = read_until_closed(sock, deadline_s=IDLE_S + 10)
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"type":"body_timeout"' in answer and b"connection: close" in answer
    assert IDLE_S * 0.9 <= waited < TOTAL_S, waited  # the idle bound, not the total one


def test_a_body_that_trickles_is_a_408_at_the_total_bound(service: MlapiProcess) -> None:
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        sock.sendall(head(900_000) + b'{"text": ["')
        started = time.monotonic()
        answer = read_until_closed(sock, deadline_s=TOTAL_S + 10, trickle_s=IDLE_S / 4)
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert TOTAL_S * 0.9 <= waited < TOTAL_S + 5, waited


def test_an_answer_before_the_body_closes_the_connection(service: MlapiProcess) -> None:
    """A 401 to a request whose body is still coming (a byte at a time, well within the idle
    bound): `Connection: close`, and closed after at most LINGER_S, not at the total bound."""
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        sock.sendall(head(900_000, key=False) + b"x")
        started = time.monotonic()
        answer = read_until_closed(sock, deadline_s=TOTAL_S, trickle_s=0.2)
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert waited < LINGER_S + 2.5, waited


def test_a_client_that_sends_its_whole_body_first_reads_the_early_answer(
    service: MlapiProcess,
) -> None:
    """The rest of the body is read and dropped after the 401 (not reset), so a client that
    reads only once it has sent everything (requests, urllib) sees the answer."""
    body = b"x" * 900_000
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
        sock.sendall(head(len(body), key=False) + body)
        answer = read_until_closed(sock, deadline_s=30)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


def test_a_whole_request_keeps_its_connection(service: MlapiProcess) -> None:
    with httpx.Client(base_url=service.url, headers={"X-API-Key": "user-key"}) as client:
        first = client.post("/predict", json={"text": ["kept alive"]})
        second = client.post("/predict", json={"text": ["and again"]})
    assert first.status_code == second.status_code == 200, first.text
    assert "close" not in first.headers.get("connection", "")
    assert client_reused(first, second)


def client_reused(first: httpx.Response, second: httpx.Response) -> bool:
    """Both answers came over one connection (httpx reports the socket it used)."""
    stream = "network_stream"
    return bool(first.extensions[stream] is second.extensions[stream])


def test_probes_answer_on_their_port_while_the_connection_limit_is_full(
    service: MlapiProcess,
) -> None:
    held = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(LIMIT + 5)]
    try:
        for sock in held:  # each holds a connection and a request whose body is due
            sock.sendall(head(1000) + b"{")
        time.sleep(0.5)  # the held connections reach the server before the limit is probed
        assert httpx.get(f"{service.url}/health").status_code == 503  # the data plane is full
        probes = f"http://127.0.0.1:{probe_port(service)}"
        for path in ("/health", "/ready", "/v2/health/live", "/v2/health/ready"):
            response = httpx.get(probes + path, timeout=5)
            assert response.status_code == 200, (path, response.text)
    finally:
        for sock in held:
            sock.close()


def test_the_probe_port_serves_only_probes(service: MlapiProcess) -> None:
    probes = f"http://127.0.0.1:{probe_port(service)}"
    response = httpx.post(
        probes + "/predict", json={"text": ["no"]}, headers={"X-API-Key": "user-key"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert httpx.get(f"{service.url}/health").status_code == 200  # the main port serves them too


@pytest.mark.parametrize(
    "values",
    [
        {"body_idle_timeout_s": 0},
        {"body_timeout_s": -1},
        {"body_idle_timeout_s": 30, "body_timeout_s": 10},
        {"port": 8000, "probe_port": 8000},
        {"probe_port": 70000},
    ],
)
def test_nonsense_time_bounds_and_ports_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ServingSettings(**values)  # type: ignore[arg-type]
