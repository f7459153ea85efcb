"""The commands of README.md and docs/getting-started.md, run in order as a reader runs them, in
a fresh folder beside the checkout's .venv: every server they start must become ready, every
other command must succeed, and every output a page shows must come back (labels, keys and
lengths exactly; numbers within 0.02, the fidelity bound of the variants mlapi serves).

What a page does not run here: installs are checked instead (the packages of the extras they
name must be in the venv: under CI=true a missing one fails, elsewhere the rest of the page is
skipped), `make run` takes its install as done (`make -o`; tests/ops/test_install.py resolves
it), the default model (it needs the hub) is the tests' small sentiment model through
MLAPI_MODEL_DIR, and the ports the pages name are free ports."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import signal
import subprocess
import tomllib
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from packaging.requirements import Requirement

from harness.servers import RedisServer, free_port
from mlapi.tools.synthetic import trained_tiny_distilbert
from tests.binaries import require_binary
from tests.ops.doc_commands import ELIDED, Command, Shown, commands
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("README.md", "docs/getting-started.md")
NOT_RUN = {"make test": "the test suite this test belongs to"}
TOLERANCE = 0.02  # docs/variants.md: a served variant's scores are within 0.02 of fp32
# Bounds for failure on a loaded 2-CPU machine, not measurements: a server with three models,
# MiniLM among them, and its start-up trial; an export or a training run.
READY_S = 300.0
COMMAND_S = 600.0


def mismatches(answer: Any, shown: Any, path: str = "$") -> list[str]:
    if isinstance(shown, dict):
        if not isinstance(answer, dict) or answer.keys() != shown.keys():
            return [f"{path}: keys {sorted(answer) if isinstance(answer, dict) else answer}"]
        return [m for k in shown for m in mismatches(answer[k], shown[k], f"{path}.{k}")]
    if isinstance(shown, list):
        elided = bool(shown) and shown[-1] == ELIDED
        head = shown[:-1] if elided else shown
        if not isinstance(answer, list) or len(answer) < len(head):
            return [f"{path}: {answer!r} for {shown!r}"]
        if not elided and len(answer) != len(head):
            return [f"{path}: {len(answer)} items, the page shows {len(head)}"]
        return [m for i, s in enumerate(head) for m in mismatches(answer[i], s, f"{path}[{i}]")]
    if isinstance(shown, float) and isinstance(answer, int | float):
        close = math.isclose(answer, shown, abs_tol=TOLERANCE)
        return [] if close else [f"{path}: {answer} for {shown}"]
    return [] if answer == shown else [f"{path}: {answer!r} for {shown!r}"]


def extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, list[str]] = project["optional-dependencies"]
    return found


def missing(requirement: str) -> bool:
    req = Requirement(requirement)
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return True
    return not req.specifier.contains(version, prereleases=True)


class Reader:
    """A reader's terminal: a folder of their own, the checkout's venv, one server at a time."""

    def __init__(self, workdir: Path, default_model: Path) -> None:
        self.workdir = workdir
        (workdir / ".venv").symlink_to(ROOT / ".venv")
        (workdir / "Makefile").symlink_to(ROOT / "Makefile")
        self.port = free_port()
        self.ports = {"8000": str(self.port), "8080": str(free_port())}
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MLAPI_")}
        self.env = {
            **clean,
            "MLAPI_MODEL_DIR": str(default_model),
            "MLAPI_PORT": str(self.port),
            "MLAPI_HOST": "127.0.0.1",
            "MLAPI_TRIAL_DIR": str(workdir / "trials"),
        }
        self.redis: RedisServer | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    def localize(self, text: str) -> str:
        """The page's ports made free ones; `make run`'s install taken as done."""
        text = re.sub(r"\b(8000|8080)\b", lambda m: self.ports[m.group(1)], text)
        if ":6379" in text:
            if self.redis is None:
                self.redis = RedisServer(require_binary("redis-server"), self.workdir)
                self.redis.start()
            text = text.replace(":6379", f":{self.redis.port}")
        return re.sub(r"(^|\s)make run\b", r"\1make -o .venv/.serve-installed run", text)

    def run(self, command: Command) -> None:
        text = command.text.strip()
        if text in NOT_RUN:
            return
        if text.startswith((".venv/bin/pip install", "make install")):
            self.check_installed(text)
            return
        words = re.sub(r"^(\w+=\S+\s+)+", "", text).split()
        if words[:2] == ["make", "run"] or (words[1:2] == ["serve"] and "--help" not in words):
            self.serve(self.localize(text))
            return
        self.check(text, command.shown)

    def check_installed(self, text: str) -> None:
        if text == "make install":
            return  # the development stack: these tests run in it
        match = re.fullmatch(r"\.venv/bin/pip install -e '\.\[([\w,]+)\]'", text)
        assert match, f"an install command no extra names: {text}"
        names = match.group(1).split(",")
        assert set(names) <= extras().keys(), text
        absent = [r for name in names for r in extras()[name] if missing(r)]
        if absent:
            message = f"`{text}` has not been run here: {absent} missing"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)

    def serve(self, text: str) -> None:
        self.stop()
        port = self.ports["8080"] if "--port" in text else str(self.port)
        self.log = (self.workdir / f"server-{port}.log").open("ab")
        server = subprocess.Popen(
            ["bash", "-c", text],
            cwd=self.workdir,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.server = server

        def ready() -> bool:
            if server.poll() is not None:
                log = (self.workdir / f"server-{port}.log").read_text()[-3000:]
                raise AssertionError(f"`{text}` exited {server.returncode}:\n{log}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, f"/ready of `{text}`", timeout=READY_S)

    def check(self, text: str, shown: Shown | None) -> None:
        command = self.localize(text)
        if shown is not None and shown.status is not None:
            command += " -w '\\n%{http_code}'"
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_S,
        )
        assert result.returncode == 0, f"`{text}`: {result.stderr[-3000:]}"
        if shown is None:
            return
        out = result.stdout
        if shown.status is not None:
            out, status = out.rsplit("\n", 1)
            assert int(status) == shown.status, f"`{text}`: {status}"
        problems = mismatches(json.loads(out), shown.body)
        assert problems == [], f"`{text}` answers otherwise than the page shows: {problems}"

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def close(self) -> None:
        self.stop()
        if self.redis is not None:
            self.redis.stop()


@pytest.fixture(scope="module")
def tiny_sentiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make run` serves when a page names no model (the default one needs the hub)."""
    return trained_tiny_distilbert(tmp_path_factory.mktemp("default-model") / "tiny-sentiment")


def test_an_answer_matches_what_a_page_shows_only_within_the_bounds() -> None:
    shown = {"data": [0.25, -0.5, ELIDED], "label": "POSITIVE", "n": 7}
    assert mismatches({"data": [0.26, -0.49, 0.1, 0.2], "label": "POSITIVE", "n": 7}, shown) == []
    assert mismatches({"data": [0.30, -0.5], "label": "POSITIVE", "n": 7}, shown)
    assert mismatches({"data": [0.25], "label": "POSITIVE", "n": 7}, shown)
    assert mismatches({"data": [0.25, -0.5], "label": "NEGATIVE", "n": 7}, shown)
    assert mismatches({"data": [0.25, -0.5], "label": "POSITIVE", "n": 7, "extra": 1}, shown)
    assert mismatches([[0.5, 0.5, 0.1]], [[0.5, 0.5]])


def test_the_pages_show_outputs_to_compare() -> None:
    for page in PAGES:
        shown = [c for c in commands((ROOT / page).read_text()) if c.shown is not None]
        assert len(shown) >= 2, page


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_the_commands_of_the_page_run_as_shown(
    page: str, tmp_path: Path, tiny_sentiment: Path
) -> None:
    reader = Reader(tmp_path, tiny_sentiment)
    try:
        for command in commands((ROOT / page).read_text()):
            reader.run(command)
    finally:
        reader.close()
