"""Commands that do real work: exit 0 when it succeeds, 1 when it fails at run time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Mlapi


def test_train_tabular_writes_a_model_folder(mlapi: Mlapi, tmp_path: Path) -> None:
    out = tmp_path / "cancer"
    done = mlapi("train", "tabular", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["test_rows"] > 0
    assert {"model.onnx", "model.skops", "tabular.json"} <= {p.name for p in out.iterdir()}


def test_train_text_with_bad_data_exits_1_with_one_line(
    mlapi: Mlapi, tmp_path: Path, model_dir: Path
) -> None:
    data = tmp_path / "data.tsv"
    data.write_text("sentence\tlabel\ngood\tPOSITIVE\nbad\tMAYBE\n")
    done = mlapi(
        "train",
        "text",
        "--base-model",
        str(model_dir),
        "--data",
        str(data),
        "--output",
        str(tmp_path / "out"),
        "--max-steps",
        "1",
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "unknown label 'MAYBE'" in done.stderr
    assert "Traceback" not in done.stderr


def test_export_writes_the_onnx_variants_without_bars_off_a_terminal(
    mlapi: Mlapi, tmp_path: Path
) -> None:
    from mlapi.tools.synthetic import tiny_distilbert

    folder = tiny_distilbert(tmp_path / "tiny")
    done = mlapi("export", str(folder), "--no-int8")
    assert done.returncode == 0, done.stderr
    assert (folder / "onnx" / "model.onnx").is_file()
    assert "wrote" in done.stderr
    assert "\r" not in done.stderr and "it/s]" not in done.stderr  # no tqdm bars in a log


def test_unexpected_failures_are_one_line_without_debug(mlapi: Mlapi, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    done = mlapi("export", str(folder), "--no-int8")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("mlapi export: error: ")
    debug = mlapi("export", str(folder), "--no-int8", env={"MLAPI_LOG_LEVEL": "DEBUG"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr


PROBE = (
    "from mlapi.cli import _progress_bars; _progress_bars(); "
    "from huggingface_hub.utils import are_progress_bars_disabled; "
    "print(are_progress_bars_disabled())"
)


def test_download_bars_only_on_a_terminal() -> None:
    import os
    import pty
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE")
    }
    piped = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert piped.stdout.strip() == "True"  # a log file or a pod's log: no bars
    leader, follower = pty.openpty()
    try:
        on_tty = subprocess.run(
            [sys.executable, "-c", PROBE],
            env=env,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert on_tty.stdout.strip() == "False"  # a terminal: bars


def test_train_text_logs_plain_progress_lines_off_a_terminal(
    mlapi: Mlapi, tmp_path: Path, model_dir: Path
) -> None:
    from mlapi.tools.synthetic import sentiment_sentences

    data = tmp_path / "data.tsv"
    rows = sentiment_sentences(64)
    names = ("NEGATIVE", "POSITIVE")
    data.write_text("sentence\tlabel\n" + "".join(f"{t}\t{names[y]}\n" for t, y in rows))
    done = mlapi(
        "train", "text", "--base-model", str(model_dir), "--data", str(data),
        "--output", str(tmp_path / "out"), "--max-steps", "20", "--batch-size", "8",
        "--eval-size", "16", "--max-length", "16",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stderr.splitlines() if " step " in line]
    assert len(steps) == 20  # one line per step when there are 20 or fewer
    assert "step 20/20 loss " in steps[-1]
    assert "\r" not in done.stderr and "it/s]" not in done.stderr
    assert (tmp_path / "out" / "model.safetensors").is_file()
