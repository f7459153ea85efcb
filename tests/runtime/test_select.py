"""`MLAPI_VARIANT=auto`: the fastest variant that is faithful here, kept for the next start."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.runtime import load_classifier
from mlapi.runtime.calibration import CALIBRATION_FILE
from mlapi.runtime.select import TIMED_PASSES, timed
from mlapi.settings import Settings


def auto(model_dir: Path, trial_dir: Path | None) -> Settings:
    return Settings(
        model_dir=model_dir, variant="auto", trial_dir=trial_dir, threads=1, access_log=False
    )


def test_auto_serves_the_fastest_faithful_variant(trained_dir: Path, tmp_path: Path) -> None:
    model = load_classifier(auto(trained_dir, tmp_path), trained_dir)
    selection = model.info.selection
    assert selection is not None and not selection["reused"]
    tried = {t["variant"]: t for t in selection["trials"] if not t["skipped"]}
    assert {"onnx-int8", "onnx-int8-mixed", "onnx-fp32"} <= set(tried)
    faithful = {name: t["sentences_per_s"] for name, t in tried.items() if t["faithful"]}
    assert "onnx-fp32" in faithful  # the reference itself always passes
    assert model.info.backend == selection["variant"] == max(faithful, key=faithful.__getitem__)
    assert "avx2" in selection["cpu"]


def test_a_restart_reuses_the_trial(trained_dir: Path, tmp_path: Path) -> None:
    first = load_classifier(auto(trained_dir, tmp_path), trained_dir)
    [stored] = tmp_path.glob("*.json")
    assert json.loads(stored.read_text())["variant"] == first.info.backend
    again = load_classifier(auto(trained_dir, tmp_path), trained_dir)
    assert again.info.selection is not None and again.info.selection["reused"]
    assert again.info.backend == first.info.backend


def test_without_an_export_torch_fp32_is_the_reference(model_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(model_dir, plain, ignore=shutil.ignore_patterns("onnx"))
    model = load_classifier(auto(plain, None), plain)
    assert model.info.backend in {"torch-fp32", "torch-bf16"}
    skipped = {t["variant"] for t in model.info.selection["trials"] if t["skipped"]}  # type: ignore[index]
    assert {"onnx-int8", "onnx-fp32"} <= skipped


def test_nothing_faithful_is_refused(trained_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained_dir, broken)
    path = broken / "onnx" / CALIBRATION_FILE
    data = json.loads(path.read_text())
    data["probs"] = [row[::-1] for row in data["probs"]]  # every fp32 label flipped
    path.write_text(json.dumps(data))
    with pytest.raises(RuntimeError, match="no variant is faithful"):
        load_classifier(auto(broken, None), broken)


def test_model_card_names_the_variant_and_the_trial(trained_dir: Path) -> None:
    with TestClient(create_app(auto(trained_dir, None))) as client:
        card = client.get("/model").json()
        metrics = client.get("/metrics").text
    assert card["backend"] == card["selection"]["variant"]
    assert card["selection"]["trials"]
    assert f'variant="{card["backend"]}"' in metrics


def test_a_candidate_is_timed_by_its_fastest_pass() -> None:
    """Work beside the trial only slows a pass down: the fastest of them is the candidate's."""
    pauses = iter([0.0, 0.4, 0.05, 0.2])  # the warm-up, then the timed passes

    def predict(texts: list[str]) -> list[str]:
        time.sleep(next(pauses))  # a pass disturbed more or less by other work
        return texts

    assert TIMED_PASSES == 3
    answers, speed = timed(predict, ["a"] * 10)
    assert answers == ["a"] * 10
    assert 10 / 0.2 < speed <= 10 / 0.05
