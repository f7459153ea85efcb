"""`make run` and `make install` install the CPU build of torch (scripts/pip-install.sh): their
pip commands, resolved with `--dry-run`, would install no CUDA package, and PyTorch's CPU index is
used when it answers, skipped within seconds when it does not."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pip-install.sh"
CUDA = re.compile(r"nvidia-.*|triton|pytorch-triton")
PROBE_S = 2


def pip_install_line(text: str) -> str:
    """The one command of `text` that installs through scripts/pip-install.sh."""
    lines = [line.strip() for line in text.splitlines() if "scripts/pip-install.sh" in line]
    lines = [line for line in lines if not line.startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def make_run_line(tmp_path: Path) -> str:
    """What `make run` runs to install, in a checkout without a venv (make -n)."""
    plan = subprocess.run(
        [require_binary("make"), "--no-print-directory", "-n", "run"]
        + [f"VENV={tmp_path / 'venv'}", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plan.returncode == 0, plan.stderr
    return pip_install_line(plan.stdout)


def resolved(line: str, tmp_path: Path) -> list[str]:
    """Names of the packages `line` would install into an empty environment."""
    report = tmp_path / "report.json"
    command = f"{line} --dry-run --ignore-installed --quiet --report {report}"
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]]


@pytest.mark.slow
def test_make_run_resolves_cpu_torch_and_no_cuda_package(tmp_path: Path) -> None:
    line = make_run_line(tmp_path)
    assert '-e ".[serve]"' in line
    names = resolved(line, tmp_path)
    assert "torch" in names
    assert [name for name in names if CUDA.fullmatch(name)] == []


@pytest.mark.slow
def test_make_install_resolves_cpu_torch_and_no_cuda_package(tmp_path: Path) -> None:
    line = pip_install_line((ROOT / "scripts" / "install-deps.sh").read_text())
    names = resolved(line, tmp_path)
    assert {"torch", "onnxruntime", "sentence-transformers"} <= set(names)
    assert [name for name in names if CUDA.fullmatch(name)] == []


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pip_args(tmp_path: Path) -> Path:
    """A PYTHON for the script whose `-m pip ...` prints its arguments instead (the probe's
    `-c` still runs the real interpreter)."""
    stub = tmp_path / "python"
    stub.write_text(
        f'#!/bin/sh\n[ "$1" = -m ] && {{ echo "$@"; exit 0; }}\nexec {sys.executable} "$@"\n'
    )
    stub.chmod(0o755)
    return stub


def script(python: Path, index: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(SCRIPT), "-e", ".[serve]"],
        env={
            **os.environ,
            "PYTHON": str(python),
            "TORCH_INDEX": index,
            "TORCH_INDEX_PROBE_S": str(PROBE_S),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, time.monotonic() - started


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_an_index_that_answers_is_added_for_torch(pip_args: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        index = f"http://127.0.0.1:{server.server_port}/whl/cpu"
        result, _ = script(pip_args, index)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-m", "pip", "install", "--extra-index-url", index] + [
        "-e",
        ".[serve]",
    ]


def test_an_index_that_does_not_answer_is_skipped_within_the_probe(
    pip_args: Path, silent_port: int
) -> None:
    result, seconds = script(pip_args, f"http://127.0.0.1:{silent_port}/whl/cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-m", "pip", "install", "-e", ".[serve]"]
    assert "does not answer" in result.stderr
    # The probe's own bound is PROBE_S; the margin is for a loaded machine, far below the
    # minutes pip itself would spend retrying an index that hangs.
    assert seconds < PROBE_S + 30


def test_no_index_at_all_leaves_pip_as_configured(pip_args: Path) -> None:
    result, _ = script(pip_args, "")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-m", "pip", "install", "-e", ".[serve]"]
    assert result.stderr == ""


def extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, list[str]] = project["optional-dependencies"]
    return found


def test_every_install_hint_names_the_venvs_pip_and_an_extra_that_exists() -> None:
    sources = [
        p
        for d in ("mlapi", "trainer", "bench")
        for p in (ROOT / d).rglob("*.py")
        if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)  # bench/.cache
    ]
    hints = [
        (source.name, match.group(0))
        for source in sources
        for match in re.finditer(r"[\w./]*pip install[^\n\"]*", source.read_text())
    ]
    assert hints
    assert [hint for hint in hints if not hint[1].startswith(".venv/bin/pip")] == []
    named = re.findall(r"_needs\(\"(\w+)\"", (ROOT / "mlapi" / "cli.py").read_text())
    named += [
        e
        for _, hint in hints
        for group in re.findall(r"\.\[([\w,]+)\]", hint)
        for e in group.split(",")
    ]
    assert named and set(named) <= extras().keys()


def test_the_tabular_extra_brings_the_default_tabular_runtime() -> None:
    from mlapi.settings import Settings

    runtime = Settings.model_fields["tabular_runtime"].default
    package = {"onnx": "onnxruntime", "skops": "skops"}[runtime]
    assert any(req.startswith(package) for req in extras()["tabular"])
