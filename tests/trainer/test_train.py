"""The trainer fine-tunes the tiny model; its output folder is served by mlapi as is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file

from mlapi.app.factory import create_app
from mlapi.runtime.onnx_backend import OnnxClassifier
from mlapi.settings import Settings
from trainer.cli import main, parse
from trainer.data import split_eval
from trainer.run import load_examples, run

ARGS = [
    "--batch-size",
    "8",
    "--learning-rate",
    "5e-3",
    "--max-length",
    "16",
    "--eval-size",
    "32",
    "--threads",
    "1",
    "--save-every",
    "5",
]


def train_args(model_dir: Path, dataset: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--base-model",
        str(model_dir),
        "--data",
        str(dataset),
        "--output",
        str(out),
        *ARGS,
        *extra,
    ]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_loss_goes_down_and_mlapi_serves_the_result(
    model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    metrics = run(parse(train_args(model_dir, dataset, out, "--max-steps", "100")))
    assert metrics["last_loss"] < metrics["first_loss"] * 0.5
    assert metrics["eval_accuracy"] >= 0.75
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == 100 and 0 <= saved["eval_f1"] <= 1
    assert "held-out accuracy" in (out / "README.md").read_text()
    assert not (out / "checkpoint.pt").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    with TestClient(create_app(Settings(model_dir=out, threads=1, access_log=False))) as client:
        rows = client.post(
            "/predict", json={"text": ["the movie was great and fun", "awful boring plot"]}
        ).json()
    scores = [{e["label"]: e["score"] for e in row} for row in rows["predictions"]]
    assert scores[0]["POSITIVE"] > 0.5 > scores[1]["POSITIVE"]


def test_same_seed_same_weights(model_dir: Path, dataset: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        run(parse(train_args(model_dir, dataset, tmp_path / name, "--max-steps", "6")))
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_interrupted_run_resumes_to_the_same_weights(
    model_dir: Path, dataset: Path, tmp_path: Path
) -> None:
    run(parse(train_args(model_dir, dataset, tmp_path / "whole", "--max-steps", "10")))
    partial = tmp_path / "resumed"
    first = run(
        parse(train_args(model_dir, dataset, partial, "--max-steps", "10", "--stop-after", "5"))
    )
    assert first == {"steps": 5, "finished": False}
    assert (partial / "checkpoint.pt").is_file() and not (partial / "config.json").exists()
    run(parse(train_args(model_dir, dataset, partial, "--max-steps", "10")))
    a, b = weights(tmp_path / "whole"), weights(partial)
    assert all(torch.allclose(a[key], b[key], atol=1e-6) for key in a)


def test_onnx_export_reports_int8_agreement(model_dir: Path, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    metrics = run(parse(train_args(model_dir, dataset, out, "--max-steps", "4", "--export-onnx")))
    assert (out / "onnx" / "model.int8.onnx").is_file()
    # The reported figures are those of the exported files on the held-out texts.
    config = parse(train_args(model_dir, dataset, out, "--max-steps", "4"))
    texts = [e.text for e in split_eval(load_examples(config), config.eval_size, config.seed)[1]]
    probs = {
        variant: OnnxClassifier(
            out, variant=variant, threads=1, max_length=16, max_batch_size=64
        ).predict(texts)
        for variant in ("fp32", "int8")
    }
    agreement = float((probs["fp32"].argmax(1) == probs["int8"].argmax(1)).mean())
    assert metrics["int8_fp32_label_agreement"] == pytest.approx(agreement, abs=1 / len(texts))
    diff = float(np.abs(probs["fp32"] - probs["int8"]).max())
    assert metrics["int8_fp32_max_score_diff"] == pytest.approx(diff, abs=1e-4)
    assert diff > 0  # int8 is not fp32: a copy of the fp32 file would show 0


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("text\tlabel\nhello\t1\n", [], "missing column 'sentence'"),
        ("sentence\tstars\nhello\t1\n", [], "missing column 'label'"),
        ("sentence\tlabel\nhello\tMAYBE\n", [], "unknown label 'MAYBE'"),
        ("sentence\tlabel\nhello\t7\n", [], "unknown label '7'"),
        ("", [], "empty file"),
        ("sentence\tlabel\n", [], "no data rows"),
        ("sentence\tlabel\na\t0\nb\t1\n", ["--labels", "ONLY"], "two or more distinct"),
    ],
)
def test_bad_inputs_give_clear_errors(
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    extra: list[str],
    message: str,
) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text(content)
    code = main(train_args(model_dir, data, tmp_path / "out", "--max-steps", "1", *extra))
    assert code == 2
    assert message in capsys.readouterr().err


def test_labels_by_name_and_csv(model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "named.csv"
    data.write_text(
        "review,sentiment\n"
        + "\n".join(
            f"{'great fun' if i % 2 else 'awful plot'},{'POSITIVE' if i % 2 else 'NEGATIVE'}"
            for i in range(40)
        )
    )
    metrics = run(
        parse(
            [
                "--base-model",
                str(model_dir),
                "--data",
                str(data),
                "--output",
                str(tmp_path / "m"),
                "--text-column",
                "review",
                "--label-column",
                "sentiment",
                "--max-steps",
                "2",
                "--eval-size",
                "8",
                "--threads",
                "1",
            ]
        )
    )
    assert metrics["train_examples"] == 32 and metrics["eval_examples"] == 8


def test_missing_file_is_a_clear_error(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(model_dir, tmp_path / "nope.tsv", tmp_path / "o")) == 2
    assert "no such file" in capsys.readouterr().err
