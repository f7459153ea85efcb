"""progress.json: the machine-readable progress a supervisor (the train API) reads."""

from __future__ import annotations

import json
from pathlib import Path

from tests.trainer.test_train import train_args
from trainer.cli import main


def test_a_finished_run_reports_steps_loss_and_eval_accuracy(
    model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    assert main(train_args(model_dir, dataset, out, "--max-steps", "6")) == 0
    progress = json.loads((out / "progress.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert progress["state"] == "succeeded"
    assert progress["step"] == progress["total_steps"] == 6
    assert progress["eval_accuracy"] == metrics["eval_accuracy"]
    assert progress["loss"] == metrics["last_loss"] and progress["error"] is None


def test_a_stopped_run_says_so(model_dir: Path, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    args = train_args(model_dir, dataset, out, "--max-steps", "6", "--stop-after", "3")
    assert main(args) == 0
    progress = json.loads((out / "progress.json").read_text())
    assert (progress["state"], progress["step"], progress["total_steps"]) == ("stopped", 3, 6)


def test_bad_data_leaves_the_error_in_progress(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\nhello\tMAYBE\n")
    out = tmp_path / "model"
    assert main(train_args(model_dir, bad, out)) == 2
    progress = json.loads((out / "progress.json").read_text())
    assert progress["state"] == "failed" and "unknown label 'MAYBE'" in progress["error"]
