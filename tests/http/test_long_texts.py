"""Long texts cost the event loop nothing in proportion to their length: they are cut to what
`max_length` tokens can use and tokenized in a thread, and the probes answer in time under a
flood of maximal requests. Against a real `python -m mlapi` (worker process, ONNX)."""

from __future__ import annotations

import http.client
import multiprocessing
import random
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tokenizers import Tokenizer

from harness.servers import MlapiProcess
from mlapi.app.factory import create_app
from mlapi.runtime.truncation import Truncation
from mlapi.settings import Settings
from tests.fakes import FakeClassifier
from tests.http.flood import MAX_CHARS, MAX_TEXTS, control, flood, long_text

CLIENTS = 4
FLOOD_S = 8.0


class ThreadNoting(Truncation):
    """The real truncation, noting the thread each call runs in."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        super().__init__(tokenizer, max_length)
        self.threads: list[str] = []

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        self.threads.append(threading.current_thread().name)
        return super().ids(texts)


def test_long_texts_reach_the_model_as_the_whole_texts_ids(
    settings: Settings, model_dir: Path
) -> None:
    made: list[FakeClassifier] = []

    def load(settings: Settings, model_dir: Path) -> FakeClassifier:
        fake = FakeClassifier(model_dir, max_batch_size=settings.max_batch_size)
        fake.truncation = ThreadNoting(fake.tokenizer, 64)
        made.append(fake)
        return fake

    rng = random.Random(5)
    texts = [long_text(rng, str(i)) for i in range(MAX_TEXTS)]
    with TestClient(create_app(settings, loader=load)) as client:
        fake = made[0]
        noting = fake.truncation
        assert isinstance(noting, ThreadNoting) and noting.budget is not None  # texts are cut
        warm, noting.threads = len(fake.batches), []
        assert client.post("/predict", json={"text": texts}).status_code == 200
        assert client.post("/predict", json={"text": ["short and sweet"]}).status_code == 200
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(64)
    expected = [e.ids for e in tokenizer.encode_batch([*texts, "short and sweet"])]
    assert sorted(row for batch in fake.batches[warm:] for row in batch) == sorted(expected)
    # 640,000 characters in a thread; one short text inline, on the loop's thread
    assert len(noting.threads) == 2 and noting.threads[0] != noting.threads[1]


@pytest.fixture(scope="module")
def service(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlapiProcess]:
    process = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_VARIANT": "onnx-fp32",
            "MLAPI_THREADS": "1",
            "MLAPI_WORKERS": "1",
            "MLAPI_ACCESS_LOG": "false",
        },
        tmp_path_factory.mktemp("long-texts") / "mlapi.log",
    )
    process.start(timeout=120)
    try:
        yield process
    finally:
        process.stop()


def probe(port: int, path: str) -> int:
    """GET `path` on a new connection, as the kubelet does (http.client: no TLS context to
    build, so the time is the server's)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@pytest.mark.slow
def test_probes_answer_within_100_ms_p99_under_a_flood_of_maximal_requests(
    service: MlapiProcess,
) -> None:
    """Bounded against this machine's own noise: a second server whose loop does nothing
    else (`control`) is probed alongside, and the probes may take 100 ms longer than its at
    p99. On a quiet machine its p99 is a few ms: the bound is then the issue's 100 ms."""
    spawn = multiprocessing.get_context("spawn")
    events: multiprocessing.Queue[tuple[str, int]] = spawn.Queue()
    reference = spawn.Process(target=control, args=(events,), daemon=True)
    reference.start()
    event, control_port = events.get(timeout=120)
    assert event == "port"
    clients = [
        spawn.Process(target=flood, args=(service.url, FLOOD_S + 1.5, i, events), daemon=True)
        for i in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    ready = sorted(events.get(timeout=120) for _ in clients)
    assert ready == [("ready", i) for i in range(CLIENTS)]
    time.sleep(1.0)  # the first requests are in
    targets = [(service.port, "/health"), (service.port, "/ready"), (control_port, "/")]
    latencies: dict[str, list[float]] = {path: [] for _, path in targets}
    until = time.monotonic() + FLOOD_S
    while time.monotonic() < until:
        for port, path in targets:
            started = time.perf_counter()
            status = probe(port, path)
            latencies[path].append(time.perf_counter() - started)
            assert status == 200, path
        time.sleep(0.02)  # paced probes, as a kubelet sends them (more often)
    answered = 0
    for _ in clients:
        event, count = events.get(timeout=120)
        assert event == "answered"
        answered += count
    for client in clients:
        client.join(timeout=30)
    reference.terminate()
    reference.join(timeout=30)
    figures = {path: round(p99(seen) * 1000, 1) for path, seen in latencies.items()}
    print(f"p99 ms {figures} ('/': control), {answered} requests of {MAX_TEXTS}x{MAX_CHARS}")
    assert answered >= CLIENTS  # the flood ran: every client was answered at least once
    assert all(len(seen) >= 50 for seen in latencies.values())
    bound = 100 + figures.pop("/")
    assert max(figures.values()) < bound, (figures, bound)
