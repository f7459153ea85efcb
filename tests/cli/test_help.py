"""Every command's --help, exit codes for usage errors, and the settings shown as options."""

from __future__ import annotations

import re

import pytest

from harness.servers import free_port
from mlapi.tools.docs_config import settings_rows
from tests.cli.conftest import ROOT, Mlapi


def test_top_level_help_lists_the_commands(mlapi: Mlapi) -> None:
    done = mlapi("--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "export", "train", "bench"):
        assert re.search(rf"^  {command} ", done.stdout, re.M), command


def test_version(mlapi: Mlapi) -> None:
    done = mlapi("--version")
    assert done.returncode == 0
    assert re.fullmatch(r"mlapi \d+\.\d+\.\d+\n", done.stdout)


def test_serve_help_shows_every_setting_with_its_env_name_and_default(mlapi: Mlapi) -> None:
    done = mlapi("serve", "--help")
    assert done.returncode == 0, done.stderr
    text = "".join(done.stdout.split())  # argparse wraps lines, also at hyphens
    for row in settings_rows():
        flag = "--" + row.name.replace("_", "-")
        assert flag in text, flag
        assert "".join(f"[env: {row.env}] [default: {row.default}]".split()) in text, row.env


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["serve", "--no-such-option", "1"], "unrecognized arguments"),
        (["serve", "--port", "http"], "--port"),
        (["serve", "--variant", "fastest"], "--variant"),
        (["no-such-command"], "invalid choice"),
        (["train"], "kind"),
        (["train", "text", "--output", "x"], "--base-model"),
        (["export"], "model_dir"),
    ],
)
def test_usage_errors_exit_2(mlapi: Mlapi, args: list[str], wanted: str) -> None:
    done = mlapi(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert wanted in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_environment_variable_is_named(mlapi: Mlapi) -> None:
    done = mlapi("serve", env={"MLAPI_MAX_BATCH_SIZE": "many"})
    assert done.returncode == 2
    assert "MLAPI_MAX_BATCH_SIZE" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_option_wins_over_the_environment(mlapi: Mlapi) -> None:
    # MLAPI_MAX_QUEUE=1 alone is refused (a request of 64 texts never fits); the option fixes it.
    refused = mlapi("serve", env={"MLAPI_MAX_QUEUE": "1"})
    assert refused.returncode == 2 and "max_queue" in refused.stderr
    port = str(free_port())
    done = mlapi(
        "serve",
        "--max-texts",
        "1",
        "--port",
        port,
        "--model-dir",
        "/nonexistent",
        env={"MLAPI_MAX_QUEUE": "1"},
    )
    assert done.returncode == 1  # past the settings: the folder is what fails now
    assert "MLAPI_MODEL_DIR=/nonexistent" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--help"],
        ["train", "--help"],
        ["train", "text", "--help"],
        ["train", "tabular", "--help"],
    ],
)
def test_subcommand_help(mlapi: Mlapi, args: list[str]) -> None:
    done = mlapi(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: mlapi {' '.join(a for a in args if a != '--help')}")


def test_train_help_shows_defaults(mlapi: Mlapi) -> None:
    text = " ".join(mlapi("train", "text", "--help").stdout.split())
    assert "--batch-size BATCH_SIZE [default: 32]" in text
    assert "--learning-rate LEARNING_RATE [default: 5e-05]" in text


def test_bench_help_from_a_source_checkout(mlapi: Mlapi) -> None:
    done = mlapi("bench", "--help", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: mlapi bench")


def test_export_of_a_folder_without_a_model_exits_2(mlapi: Mlapi, tmp_path: object) -> None:
    done = mlapi("export", str(tmp_path))
    assert done.returncode == 2
    assert "has no config.json" in done.stderr


def test_serve_help_shows_choices_and_switches(mlapi: Mlapi) -> None:
    text = mlapi("serve", "--help").stdout
    assert (
        "--variant {auto,onnx-int8,onnx-int8-mixed,onnx-q8,onnx-fp32,torch-bf16,torch-fp32}" in text
    )
    assert "--access-log true|false" in text


def test_the_console_script_without_a_command_is_a_usage_error() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "mlapi"  # [project.scripts], installed with the package
    assert script.is_file()
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "a command is required" in done.stderr and done.stderr.startswith("usage: mlapi")
