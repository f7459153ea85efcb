"""The slow-client harness (issue #36): 1,000 slow bodies and a flood of long texts against a
real `python -m mlapi`. Every probe on the probe listener answers 200 within 100 ms p99, and
the server releases every slow connection within the body bounds."""

from __future__ import annotations

import json
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess, free_port
from mlapi.http.connection import LINGER_S
from tests.http.service import light_service

SLOW = 1000  # slow bodies: half with a key (they wait on their body), half answered 401 at once
IDLE_S, TOTAL_S = 2.0, 5.0
TRICKLE_S = 1.0  # a byte per slow connection this often: within the idle bound
ARRIVAL_S = 2.0  # the slow connections open over this long (slow clients, not a connect storm)
FLOOD = 2  # clients sending long texts without pause
TEXTS, CHARS = 16, 10_000
PROBE_S = ARRIVAL_S + TOTAL_S + 2  # probes are timed this long, from the first slow body on


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    with light_service(
        model_dir,
        tmp_path_factory.mktemp("slow-clients"),
        MLAPI_BODY_IDLE_TIMEOUT_S=str(IDLE_S),
        MLAPI_BODY_TIMEOUT_S=str(TOTAL_S),
        MLAPI_PROBE_PORT=str(free_port()),
        MLAPI_LOG_LEVEL="ERROR",  # not a line per connection past the limit
    ) as process:
        yield process


class SlowBodies:
    """`count` connections, opened over ARRIVAL_S, that each send a head declaring 900,000
    bytes and then a byte every TRICKLE_S; records when the server closed each (seconds after
    the first opened) and what it answered."""

    def __init__(self, port: int, count: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.opened = time.monotonic()
        self.answers: dict[socket.socket, bytearray] = {}
        self.closed: dict[socket.socket, float] = {}
        for i in range(count):
            due = self.opened + ARRIVAL_S * i / count
            time.sleep(max(0.0, due - time.monotonic()))  # paced arrivals over ARRIVAL_S
            sock = socket.create_connection(("127.0.0.1", port))
            key = b"X-API-Key: user-key\r\n" if i % 2 else b""
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                + key
                + b"Content-Length: 900000\r\n\r\n{"
            )
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.answers[sock] = bytearray()

    def run(self, deadline_s: float) -> None:
        """Trickles and reads until every connection is closed or `deadline_s` passed."""
        end = time.monotonic() + deadline_s
        next_byte = time.monotonic() + TRICKLE_S
        while len(self.closed) < len(self.answers) and time.monotonic() < end:
            for event, _ in self.selector.select(timeout=0.05):
                self._read(event.fileobj)  # type: ignore[arg-type]
            if time.monotonic() >= next_byte:
                next_byte += TRICKLE_S
                for sock in self.answers.keys() - self.closed.keys():
                    try:
                        sock.send(b" ")
                    except OSError:
                        self._closed(sock)

    def _read(self, sock: socket.socket) -> None:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.answers[sock].extend(chunk)
        else:
            self._closed(sock)

    def _closed(self, sock: socket.socket) -> None:
        if sock not in self.closed:
            self.closed[sock] = time.monotonic() - self.opened
            self.selector.unregister(sock)

    def close(self) -> None:
        for sock in self.answers:
            sock.close()
        self.selector.close()


def flood(url: str, stop: threading.Event, statuses: list[int]) -> None:
    """Requests of long texts never seen before (no cache hit), one after the other."""
    with httpx.Client(headers={"X-API-Key": "user-key"}, timeout=60) as client:
        while not stop.is_set():
            texts = [
                f"{uuid.uuid4()} " + "a long text " * ((CHARS - 40) // 12) for _ in range(TEXTS)
            ]
            statuses.append(client.post(f"{url}/predict", json={"text": texts}).status_code)


def test_slow_bodies_and_long_texts_leave_the_probes_fast(service: MlapiProcess) -> None:
    stop = threading.Event()
    flooded: list[int] = []
    threads = [
        threading.Thread(target=flood, args=(service.url, stop, flooded)) for _ in range(FLOOD)
    ]
    for thread in threads:
        thread.start()
    probes = subprocess.Popen(
        [sys.executable, "-m", "harness.probe_timer", service.env["MLAPI_PROBE_PORT"]]
        + [str(PROBE_S)],
        stdout=subprocess.PIPE,
    )
    slow = SlowBodies(service.port, SLOW)
    try:
        slow.run(deadline_s=ARRIVAL_S + TOTAL_S + 20)
        timed = json.loads(probes.communicate(timeout=PROBE_S + 30)[0])
    finally:
        stop.set()
        probes.kill()
        for thread in threads:
            thread.join(timeout=60)
        slow.close()

    assert len(slow.closed) == SLOW, f"{SLOW - len(slow.closed)} slow bodies still open"
    answered_early = [s for s, a in slow.answers.items() if a.startswith(b"HTTP/1.1 401 ")]
    timed_out = [s for s, a in slow.answers.items() if a.startswith(b"HTTP/1.1 408 ")]
    assert len(answered_early) == len(timed_out) == SLOW // 2
    # Released within the bounds (the last connection opened ARRIVAL_S after the first).
    assert max(slow.closed[s] for s in answered_early) < ARRIVAL_S + LINGER_S + 5
    assert max(slow.closed[s] for s in timed_out) < ARRIVAL_S + TOTAL_S + 5

    assert flooded and set(flooded) == {200}, set(flooded)
    assert len(timed) >= 50 and {status for _, status in timed} == {200}, timed
    p99 = statistics.quantiles([seconds for seconds, _ in timed], n=100)[98]
    assert p99 < 0.1, f"probe p99 {p99 * 1000:.0f} ms over {len(timed)} probes"
