"""The README documents every setting and both commands that CI and users run."""

from __future__ import annotations

from pathlib import Path

from mlapi.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"MLAPI_{name.upper()}" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make run" in readme
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()
