"""The documentation site as a reader gets it: `mkdocs build --strict` succeeds, and the
generated pages show every setting's default and description, and every error type, as text."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlapi.tools.docs_config import error_classes, settings_rows

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ".venv/bin/pip install -e '.[docs]' (or make install)"


class TableCells(HTMLParser):
    """The text of every table row's cells, tags dropped and entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(page: Path) -> list[list[str]]:
    parser = TableCells()
    parser.feed(page.read_text())
    return [row for row in parser.rows if row]


def as_text(markdown: str) -> str:
    """What a table cell's Markdown reads as: no code-span backticks, no escapes."""
    return " ".join(markdown.replace("`", "").replace("\\|", "|").split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        message = f"mkdocs-material is not installed: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return out


def test_the_configuration_page_shows_every_default_and_description(site: Path) -> None:
    rows = {row[0]: row for row in table_rows(site / "configuration" / "index.html")}
    settings = settings_rows()
    assert settings
    for setting in settings:
        cells = rows.get(setting.env)
        assert cells is not None, setting.env
        assert cells[1] == as_text(setting.default), setting.env
        assert cells[3] == as_text(setting.description), setting.env
    placeholders = [s.env for s in settings if re.search(r"<\w+>", s.description)]
    assert placeholders, "no description with a <placeholder> left to check"


def test_the_routes_page_says_when_each_error_is_answered(site: Path) -> None:
    rows = table_rows(site / "reference" / "http" / "index.html")
    shown = {(row[0], row[1]): row[2] for row in rows if len(row) == 3}
    for status, kind, when in error_classes():
        assert shown.get((str(status), kind)) == as_text(when), kind
