"""Start-up checks, run as `python -m mlapi` is run: each expected failure is one log line
that names the setting to change, comes before any model loads, and has no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from harness.servers import MlapiProcess, free_port


def serve(env: dict[str, str], timeout: float = 60) -> tuple[int, list[str], float]:
    """Run `python -m mlapi` to its end: exit code, output lines, seconds."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLAPI_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mlapi"],
        env={**base, "MLAPI_HOST": "127.0.0.1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = (done.stdout + done.stderr).splitlines()
    return done.returncode, lines, time.monotonic() - started


def records(lines: list[str]) -> list[dict[str, object]]:
    """Every line is one JSON object (no progress bars, no stray prints)."""
    return [json.loads(line) for line in lines]


def test_a_busy_port_fails_before_the_model_loads(model_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines, seconds = serve(
            {"MLAPI_MODEL_DIR": str(model_dir), "MLAPI_PORT": str(port), "MLAPI_WORKERS": "0"}
        )
    assert code == 1
    errors = [r for r in records(lines) if r["level"] == "ERROR"]
    assert [r["msg"] for r in errors] == [f"port {port} is in use: set MLAPI_PORT"]
    assert not any("model loaded" in line for line in lines)
    assert seconds < 15  # interpreter and imports; loading the model would come on top


def test_a_folder_without_weights_is_one_error_line(tmp_path: Path, model_dir: Path) -> None:
    folder = tmp_path / "no-weights"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (folder / name).write_bytes((model_dir / name).read_bytes())
    code, lines, _ = serve({"MLAPI_MODEL_DIR": str(folder), "MLAPI_PORT": str(free_port())})
    assert code == 1
    logged = records(lines)
    errors = [r for r in logged if r["level"] == "ERROR"]
    assert len(errors) == 1 and "no weights" in str(errors[0]["msg"])
    assert str(folder) in str(errors[0]["msg"])
    assert not any("exc" in r or "Traceback" in str(r["msg"]) for r in logged)


def test_a_model_that_fails_to_load_is_logged_without_a_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-tabular-model"
    empty.mkdir()
    config = tmp_path / "models.yaml"
    config.write_text(f"models:\n  - {{name: t, path: {empty}, kind: tabular}}\n")
    code, lines, _ = serve({"MLAPI_MODELS": str(config), "MLAPI_PORT": str(free_port())})
    assert code == 1
    logged = records(lines)
    assert any("tabular.json" in str(r["msg"]) for r in logged if r["level"] == "ERROR")
    assert not any("exc" in r or "Traceback" in str(r["msg"]) for r in logged)


def test_unreachable_redis_is_one_warning_and_the_service_runs(
    model_dir: Path, tmp_path: Path
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    service = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_REDIS_URL": nowhere,
            "MLAPI_WORKERS": "0",
            "MLAPI_VARIANT": "torch-fp32",
            "MLAPI_TRIAL_DIR": "",
            "MLAPI_THREADS": "1",
        },
        tmp_path / "mlapi.log",
    )
    service.start()
    try:
        answer = httpx.post(f"{service.url}/predict", json={"text": ["I love you."]}, timeout=30)
        again = httpx.post(f"{service.url}/predict", json={"text": ["I love you."]}, timeout=30)
    finally:
        service.stop()
    assert answer.status_code == 200 and again.status_code == 200
    assert again.headers["x-mlapi-cache"] == "Hit"  # the in-process tier serves
    logged = records(service.log_path.read_text().splitlines())
    named = [r for r in logged if "MLAPI_REDIS_URL" in str(r["msg"])]
    assert len(named) == 1 and named[0]["level"] == "WARNING"
    assert nowhere in str(named[0]["msg"])
    assert not any("exc" in r for r in logged)  # expected errors: one line, no traceback


def test_json_logs_hold_no_colour_codes_or_progress_bars(model_dir: Path, tmp_path: Path) -> None:
    service = MlapiProcess(
        {"MLAPI_MODEL_DIR": str(model_dir), "MLAPI_WORKERS": "1", "MLAPI_THREADS": "1"},
        tmp_path / "mlapi.log",
    )
    service.start()
    service.stop()
    text = service.log_path.read_text()
    assert "\x1b[" not in text and "\r" not in text
    logged = records(text.splitlines())  # stdout and stderr together: JSON only
    assert not any("color_message" in r for r in logged)
    assert any(r["msg"] == "Application startup complete." for r in logged)


def test_a_model_dir_beside_a_models_config_is_named_as_unused(tmp_path: Path) -> None:
    missing = tmp_path / "models.yaml"
    code, lines, _ = serve(
        {
            "MLAPI_MODELS": str(missing),
            "MLAPI_MODEL_DIR": "/models/model",
            "MLAPI_PORT": str(free_port()),
        }
    )
    assert code == 1  # the config file is missing
    warnings = [r["msg"] for r in records(lines) if r["level"] == "WARNING"]
    assert warnings == [
        f"MLAPI_MODELS={missing} names the models to serve: MLAPI_MODEL_DIR=/models/model is "
        "not used"
    ]


def _config_error(tmp_path: Path, text: str | None) -> str:
    """The one ERROR line of a start with `text` as the models file (None: no file)."""
    config = tmp_path / "models.yaml"
    config.unlink(missing_ok=True)
    if text is not None:
        config.write_text(text)
    code, lines, _ = serve({"MLAPI_MODELS": str(config), "MLAPI_PORT": str(free_port())})
    assert code == 1
    logged = records(lines)
    errors = [r for r in logged if r["level"] == "ERROR"]
    assert len(errors) == 1, logged
    message = str(errors[0]["msg"])
    assert "\n" not in message and "pydantic.dev" not in message and "Traceback" not in message
    assert message.startswith(f"MLAPI_MODELS={config}: ")
    return message.removeprefix(f"MLAPI_MODELS={config}: ")


def test_a_models_file_error_is_one_line_naming_the_entry_and_field(tmp_path: Path) -> None:
    misspelt = "models:\n  - {name: a, path: a}\n  - {name: b, path: b, setings: {}}\n"
    assert _config_error(tmp_path, misspelt) == (
        "models[1] ('b'), field 'setings': Extra inputs are not permitted"
    )
    missing = "models:\n  - {name: a}\n"
    assert _config_error(tmp_path, missing) == "models[0] ('a'), field 'path': Field required"
    assert _config_error(tmp_path, "models:\n  - {name: a, path: [\n").startswith(
        "not valid YAML, line "
    )
    assert _config_error(tmp_path, None).startswith("cannot read it (")


def test_a_missing_model_folder_is_said_not_to_exist(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    code, lines, _ = serve({"MLAPI_MODEL_DIR": str(nowhere), "MLAPI_PORT": str(free_port())})
    assert code == 1
    errors = [r["msg"] for r in records(lines) if r["level"] == "ERROR"]
    assert errors == [f"MLAPI_MODEL_DIR={nowhere} does not exist"]
    config = tmp_path / "models.yaml"
    config.write_text(f"models:\n  - {{name: a, path: {nowhere}}}\n")
    code, lines, _ = serve({"MLAPI_MODELS": str(config), "MLAPI_PORT": str(free_port())})
    assert code == 1
    errors = [r["msg"] for r in records(lines) if r["level"] == "ERROR"]
    assert errors == [f"model 'a' ({nowhere}, in MLAPI_MODELS={config}) does not exist"]
