"""Workers started before the server boots: what they import, and that they serve as any."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess
from mlapi.runtime.select import Choice, stored_variant, trial_key
from mlapi.settings import Settings
from mlapi.workers.early import preload_for
from tests.waiting import wait_until


def settings(model_dir: Path, **fields: object) -> Settings:
    return Settings.model_validate({"model_dir": model_dir, "trial_dir": None, **fields})


def kept(variant: str) -> str:
    """A stored trial's record that chose `variant`."""
    return json.dumps(Choice(variant, ("avx2",), []).as_dict())


def test_a_fixed_variant_says_its_runtime_and_the_model_class(model_dir: Path) -> None:
    assert preload_for(settings(model_dir, variant="torch-fp32")) == [
        "torch",
        "DistilBertForSequenceClassification",
    ]
    assert preload_for(settings(model_dir, variant="onnx-int8")) == ["onnxruntime"]


def test_nothing_is_started_early_unless_the_runtime_is_known(
    model_dir: Path, tmp_path: Path
) -> None:
    assert preload_for(settings(model_dir, variant="torch-fp32", workers=0)) == []
    assert preload_for(settings(tmp_path, variant="torch-fp32")) == []  # no config.json
    auto = settings(model_dir, variant="auto", trial_dir=tmp_path / "trials")
    assert preload_for(auto) == []  # no trial stored yet
    store = tmp_path / "trials" / f"{trial_key(model_dir, auto)}.json"
    store.parent.mkdir()
    store.write_text(kept("onnx-fp32"))
    assert stored_variant(auto, model_dir) == "onnx-fp32"
    assert preload_for(auto) == ["onnxruntime"]
    store.write_text(kept("rm -rf /"))  # not a variant: ignored
    assert preload_for(auto) == []
    store.write_text(json.dumps({"variant": "onnx-fp32"}))  # not a whole record: ignored
    assert preload_for(auto) == []
    two = settings(model_dir, variant="auto", trial_dir=tmp_path / "trials", workers=2, threads=2)
    each = two.model_copy(update={"threads": 1})  # the trial a worker stores: its own threads
    (tmp_path / "trials" / f"{trial_key(model_dir, each)}.json").write_text(kept("torch-fp32"))
    assert preload_for(two) == ["torch", "DistilBertForSequenceClassification"]


def worker(url: str) -> dict[str, object]:
    stats = httpx.get(f"{url}/stats", timeout=30).json()
    listed: list[dict[str, object]] = stats["models"]["default"]["workers"]
    return listed[0]


def cmdline(pid: object) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


@pytest.mark.slow
def test_the_early_worker_serves_and_a_fresh_one_replaces_it(
    model_dir: Path, tmp_path: Path
) -> None:
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_VARIANT": "torch-fp32",
        "MLAPI_THREADS": "1",
        "MLAPI_TRIAL_DIR": "",
    }
    service = MlapiProcess(env, tmp_path / "mlapi.log")
    service.start()
    try:
        first = worker(service.url)
        assert cmdline(first["pid"])[-3:] == [
            "--preload",
            "torch",
            "DistilBertForSequenceClassification",
        ]
        body = {"text": ["a great film", "an awful film"]}
        answer = httpx.post(f"{service.url}/predict", json=body, timeout=30)
        assert answer.status_code == 200
        os.kill(int(str(first["pid"])), signal.SIGKILL)
        wait_until(
            lambda: (
                worker(service.url)["pid"] != first["pid"]
                and worker(service.url)["state"] == "idle"
            ),
            "a fresh worker",
            60,
        )
        assert "--preload" not in cmdline(worker(service.url)["pid"])
        again = httpx.post(f"{service.url}/predict", json={"text": ["a new text"]}, timeout=30)
        assert again.status_code == 200
        assert httpx.post(f"{service.url}/predict", json=body, timeout=30).json() == answer.json()
    finally:
        service.stop()
