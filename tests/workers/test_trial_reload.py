"""After a variant trial, the worker is started once more: it serves holding only the choice."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings


def auto_settings(model_dir: Path, candidates: str, trial_dir: Path | None) -> Settings:
    return Settings(
        model_dir=model_dir,
        variant="auto",
        auto_variants=candidates,
        trial_dir=trial_dir,
        workers=1,
        threads=1,
        warmup_batches=1,
        access_log=False,
    )


def test_a_worker_that_ran_the_trial_is_replaced_by_one_that_reuses_it(
    model_dir: Path, tmp_path: Path
) -> None:
    trials = tmp_path / "trials"
    settings = auto_settings(model_dir, "onnx-fp32,onnx-int8-mixed", trials)
    with TestClient(create_app(settings)) as client:
        selection = client.get("/model").json()["selection"]
        workers = client.get("/stats").json()["models"]["default"]["workers"]
        assert client.post("/predict", json={"text": ["fine"]}).status_code == 200
    assert len(list(trials.glob("*.json"))) == 1  # the trial ran in this start, and was kept
    assert selection["reused"] and selection["stored"]  # ... and the serving worker reused it
    assert selection["seconds"] > 0 and len(selection["trials"]) >= 2
    assert [w["restarts"] for w in workers] == [0]  # not counted as a crash restart


def test_without_a_trial_dir_the_worker_keeps_its_trial(model_dir: Path) -> None:
    settings = auto_settings(model_dir, "onnx-fp32", None)
    with TestClient(create_app(settings)) as client:
        selection = client.get("/model").json()["selection"]
    assert not selection["reused"] and not selection["stored"]
