"""The fuzzer in the suite: Schemathesis on every operation of a real server's OpenAPI, with
and without keys; no 5xx, responses that match the schema, still ready afterwards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.fuzz import KEYS, run
from tests.binaries import require_binary

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error(model_dir: Path, tmp_path: Path) -> None:
    require_binary("schemathesis")
    report = run(model_dir, tmp_path, examples=5)
    failed = {r["keys"]: r["summary"] for r in report["runs"] if r["exit"] != 0}
    assert not failed, json.dumps(failed, indent=1)
    assert [r["keys"] for r in report["runs"]] == list(KEYS)
    assert report["ready_after"] == 200 and report["ok"]
    for name in KEYS:  # every operation of the schema was driven
        summary = (tmp_path / f"{name}.txt").read_text()
        selected = re.search(r"Selected: (\d+)/(\d+)", summary)
        tested = re.search(r"Tested: (\d+)", summary)
        assert selected and tested, summary[-2000:]
        assert selected[1] == selected[2] == tested[1], summary[-2000:]
