"""Rendered overlays, once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:  # scripts/kubeplay, the package of `make kube-play`
    sys.path.insert(0, str(ROOT / "scripts"))
OVERLAYS = ("prod", "dev")
FOLDERS = {
    "prod": "overlays/prod",
    "dev": "overlays/dev",
    "prod-training": "overlays/prod-training",
    "jobs": "jobs",
}


def render(name: str) -> list[dict[str, Any]]:
    kubectl = require_binary("kubectl")
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / ".k8s" / FOLDERS[name])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(name) for name in FOLDERS}


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise KeyError(f"{kind}/{name}")
