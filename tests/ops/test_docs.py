"""The README and the docs site: generated pages match the code, the README stays short and
says nothing a newcomer cannot place, CI builds the site."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlapi.tools.docs_config import PAGES, error_classes, settings_rows

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_generated_pages_match_the_code() -> None:
    stale = [
        name for name, render in PAGES.items() if (ROOT / "docs" / name).read_text() != render()
    ]
    assert stale == [], "run `make docs-config`"


def test_every_setting_is_on_the_configuration_page() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [row.env for row in settings_rows() if f"| `{row.env}` |" not in page]
    assert missing == []


def test_every_error_type_says_when_it_is_answered() -> None:
    assert [kind for _, kind, when in error_classes() if not when] == []


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    assert len(README.encode()) <= 12 * 1024
    assert "make run" in README and "make test" in README
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()


def test_readme_has_no_commit_hashes_or_machine_specific_prose() -> None:
    hashes = [
        word
        for word in re.findall(r"(?<![\w.])[0-9a-f]{7,40}(?![\w.-])", README)
        if re.search(r"[a-f]", word) and re.search(r"[0-9]", word)
    ]
    assert hashes == []
    for phrase in (
        "this machine",
        "measured here",
        "run here",
        "../shared",
        "velo",
        "seed",
        "plane-delay",
        "reference design",
    ):
        assert not re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", README.lower()), phrase


def test_readme_links_point_at_files_that_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), target


def _nav_files(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [f for item in node for f in _nav_files(item)]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _nav_files(value)]
    return []


def test_every_page_of_the_nav_exists_and_ci_builds_the_site() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    files = _nav_files(config["nav"])
    assert [f for f in files if not (ROOT / "docs" / f).is_file()] == []
    for page in ("configuration.md", "deploy/kubernetes.md", "security.md", "performance.md"):
        assert page in files
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nmake docs\n" in ci
    assert ci.index("\nmake test\n") < ci.index("\nmake docs\n") < ci.index("make image-test")
