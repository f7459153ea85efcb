"""The server reads a worker's replies as data, never as a pickle: a worker that answers with a
pickle is a failed worker (killed, restarted), and the pickle's code does not run."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess
from mlapi.workers import protocol
from tests.waiting import wait_until
from tests.workers.conftest import workers
from tests.workers.hostile import PREFIX, pickled_frame

pytestmark = pytest.mark.slow


def test_the_payload_runs_code_when_unpickled(tmp_path: Path) -> None:
    """The control: what the hostile worker sends is a live exploit for `pickle.loads`."""
    marker = tmp_path / "unpickled"
    pickle.loads(pickled_frame(str(marker))[protocol.HEADER.size :])
    assert marker.is_dir()


def test_a_pickle_is_not_a_reply(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(pickled_frame(str(marker))[protocol.HEADER.size :])
    assert not marker.exists()


def test_replies_round_trip_as_data() -> None:
    rows = [b"\x00\x01", b"", b'[{"label":"a","score":1.0}]']
    for frame, expected in [
        (protocol.done(7, rows), protocol.Done(7, rows)),
        (protocol.error(7, "boom"), protocol.BatchError(7, "boom")),
        (protocol.failed("no"), protocol.Failed("no")),
        (
            protocol.ready(12, {"class": "X", "attrs": {}}),
            protocol.Ready(12, {"class": "X", "attrs": {}}),
        ),
    ]:
        assert protocol.parse(frame[protocol.HEADER.size :]) == expected


@pytest.mark.parametrize(
    "header",
    [b'{"type": "done", "batch": 1, "sizes": [5]}', b'{"type": "ready", "pid": "1"}', b"[1]"],
)
def test_malformed_replies_are_refused(header: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(protocol.HEADER.pack(len(header)) + header + b"xy")


@pytest.fixture
def hostile(tmp_path: Path, model_dir: Path) -> Iterator[MlapiProcess]:
    models = tmp_path / "models.yaml"
    models.write_text(
        f"""
default: victim
models:
  - name: victim
    kind: hostile-classifier
    path: {model_dir}
    settings: {{variant: onnx-fp32, workers: 1}}
"""
    )
    env = {
        "MLAPI_MODELS": str(models),
        "MLAPI_KIND_MODULES": "tests.workers.hostile",
        "MLAPI_THREADS": "1",
        "MLAPI_TRIAL_DIR": "",
        "MLAPI_MAX_WAIT_MS": "5",
    }
    service = MlapiProcess(env, tmp_path / "mlapi.log")
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_a_worker_that_replies_with_a_pickle_is_a_failed_worker(
    hostile: MlapiProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled-by-the-server"
    response = httpx.post(
        f"{hostile.url}/predict", json={"text": [f"{PREFIX}{marker}"]}, timeout=120
    )
    assert response.status_code == 422, response.text  # the input that broke its workers
    assert response.json()["error"]["type"] == "input_crashed_model"
    assert not marker.exists()
    log = hostile.log_path.read_text()
    assert "malformed reply" in log
    wait_until(lambda: workers(hostile.url)[0]["state"] == "idle", "the worker restarted")
    assert int(str(workers(hostile.url)[0]["restarts"])) >= 1
    answer = httpx.post(f"{hostile.url}/predict", json={"text": ["a fine film"]}, timeout=60)
    assert answer.status_code == 200, answer.text
