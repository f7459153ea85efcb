"""`python -m bench --image`: its arguments, its report, and the keyed routes it reads.

Building and playing the image needs podman and minutes: CI runs `make image-test` and
`make kube-play`; these tests cover what runs without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import image, report
from bench.__main__ import main
from bench.served import get_json, model_stats
from harness.servers import MlapiProcess


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--image"], "--image needs --fidelity-model DIR"),
        (["--image-tag", "localhost/x:y"], "--image-tag needs --image"),
        (["--image", "--fidelity-model", "m", "--smoke"], "no --smoke"),
        (["--image", "--fidelity-model", "m", "--set", "MLAPI_THREADS=1"], "no --set"),
        (
            ["--image", "--fidelity-model", "m", "--profiles", "cold-sst2,seed-95"],
            "--image runs only cold, cold-sst2, not seed-95",
        ),
    ],
)
def test_bad_image_arguments_stop_before_any_work(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def profile(sentences: float, p99: float) -> dict[str, Any]:
    return {"req_per_s": sentences / 10, "p99_ms": p99, "sentences_per_s": sentences}


def canned_run() -> dict[str, Any]:
    cold = {"failed_rate": 0.0}
    return {
        "machine": {"date": "2026-12-06 13:00 UTC", "commit": "abc1234", "nproc": 2, "cpu": "Zen"},
        "command": "python -m bench --image --fidelity-model models/minilm-sst2",
        "timing": {"VUS": "10", "RAMP_UP": "3s", "HOLD": "40s", "RAMP_DOWN": "1s"},
        "model_dir": "models/minilm-sst2",
        "image": {
            "tag": "localhost/mlapi:image-test",
            "id": "da7c0099da1e",
            "size_mb": 487,
            "build_seconds": 301.5,
            "built_here": True,
            "dockerfile": {"blob": "0123abcd", "last_commit": "f00d", "uncommitted_changes": True},
        },
        "results": [
            {
                "config": "auto",
                "variant": "torch-bf16",
                "ready_seconds": 9.1,
                "cold-sst2": {**profile(330.0, 410.0), **cold},
            },
            {
                "config": "reference",
                "ready_seconds": 4.0,
                "cold-sst2": {**profile(66, 900), **cold},
            },
            {
                "config": "image",
                "variant": "onnx-int8",
                "ready_seconds": 6.25,
                "restarts_before_ready": 1,
                "restarts_during_run": 0,
                "cold-sst2": {**profile(261.0, 520.0), **cold},
            },
        ],
    }


def test_the_shipped_table_puts_the_image_beside_the_venv_and_the_reference() -> None:
    run = canned_run()
    assert image.ratios(run["results"], "cold-sst2") == {
        "auto": 5.0,
        "reference": 1.0,
        "image": 3.95,
    }
    assert image.ratios(run["results"], "cold") == {"auto": None, "reference": None, "image": None}
    text = image.markdown(run)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == [
        "| auto | torch-bf16 | cold-sst2 | 33.0 | 410.0 | 330.0 | 5.0x | 9.1 | 0.00% |",
        "| reference | pipeline fp32 | cold-sst2 | 6.6 | 900 | 66 | 1.0x | 4.0 | 0.00% |",
        "| image | onnx-int8 | cold-sst2 | 26.1 | 520.0 | 261.0 | 3.95x | 6.25 | 0.00% |",
    ]
    assert "`localhost/mlapi:image-test` (da7c0099da1e, 487 MB), built here in 301.5 s" in text
    assert "blob `0123abcd` (last commit f00d, with uncommitted changes)" in text
    assert "(its container restarted 1 times before)." in text and "void" not in text
    run["results"][2]["restarts_during_run"] = 2
    run["image"]["built_here"] = False
    text = image.markdown(run)
    assert "**The image's container restarted 2 times under load**: void." in text
    assert "given by --image-tag (the model baked in is not checked" in text


def test_shipped_runs_get_their_own_section_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Benchmark results\n\n{report.MARK}\n\nfull run\n")
    monkeypatch.setattr(report, "RESULTS", results)
    report.write_shipped("### first\n")
    report.write_shipped("### second\n")
    report.write_results("### partial\n", complete=False)
    text = results.read_text()
    assert text.count("## Shipped image") == 1
    assert text.index(report.MARK) < text.index("full run") < text.index(report.IMAGE_MARK)
    assert text.index(report.IMAGE_MARK) < text.index("### second") < text.index("### first")
    assert text.index(report.AB_MARK) < text.index("### partial")
    assert text.count("### partial") == 1 and "### partial" not in text.split(report.AB_MARK)[0]


def test_the_play_it_reuses_is_make_kube_plays() -> None:
    play = image.kubeplay()
    assert play.MLAPI_IMAGE == "localhost/mlapi:image-test"
    for name in ("up", "wait_ready", "close", "container", "podman", "logs", "restarts"):
        assert callable(getattr(play.Play, name))


def test_stats_and_card_are_read_with_the_prod_api_key(model_dir: Path, tmp_path: Path) -> None:
    service = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_API_KEYS": "bench-key",
            "MLAPI_VARIANT": "onnx-fp32",
            "MLAPI_THREADS": "1",
        },
        tmp_path / "mlapi.log",
    )
    service.start(timeout=120)
    try:
        keyed = {"Authorization": "Bearer bench-key"}
        done = httpx.post(f"{service.url}/predict", json={"text": ["a", "b"]}, headers=keyed)
        assert done.status_code == 200
        assert model_stats(service.url) is None  # without the key, as in prod: a 401
        stats = model_stats(service.url, "bench-key")
        assert stats is not None and stats["batches"] >= 1
        assert model_stats(service.url, "wrong-key") is None
        card = get_json(f"{service.url}/model", "bench-key")
        assert card is not None and card["backend"] == "onnx-fp32"
    finally:
        service.stop()
