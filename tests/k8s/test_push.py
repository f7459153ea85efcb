"""push.sh: SHA-tagged build and push, and the prod overlay pinned to that tag."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.binaries import require_binary
from tests.k8s.conftest import ROOT


def sha() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_dry_run_prints_the_commands_and_changes_nothing() -> None:
    overlay = ROOT / ".k8s" / "overlays" / "prod" / "kustomization.yaml"
    before = overlay.read_text()
    result = subprocess.run(
        ["bash", str(ROOT / "push.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        env={**os.environ, "REGISTRY": "registry.test/team", "ALLOW_DIRTY": "1"},
    )
    assert result.returncode == 0, result.stderr
    image = f"registry.test/team/mlapi:{sha()}"
    assert f"+ docker build --target runtime -t {image} ." in result.stdout
    assert f"+ docker push {image}" in result.stdout
    assert "scripts/set_image.py .k8s/overlays/prod/kustomization.yaml mlapi" in result.stdout
    assert overlay.read_text() == before


def test_registry_is_required() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REGISTRY"}
    result = subprocess.run(
        ["bash", str(ROOT / "push.sh"), "--dry-run"], capture_output=True, text=True, env=env
    )
    assert result.returncode != 0 and "REGISTRY" in result.stderr


def test_set_image_pins_the_rendered_prod_image(tmp_path: Path) -> None:
    kubectl = require_binary("kubectl")
    shutil.copytree(ROOT / ".k8s", tmp_path / ".k8s")
    shutil.copytree(ROOT / "grafana", tmp_path / "grafana")
    kustomization = tmp_path / ".k8s" / "overlays" / "prod" / "kustomization.yaml"
    subprocess.run(
        [
            "python3",
            str(ROOT / "scripts" / "set_image.py"),
            str(kustomization),
            "mlapi",
            "registry.test/team/mlapi",
            "abc123def456",
        ],
        check=True,
    )
    rendered = subprocess.run(
        [kubectl, "kustomize", str(kustomization.parent)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    images = [
        c["image"]
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert "registry.test/team/mlapi:abc123def456" in images


def test_set_image_refuses_latest(tmp_path: Path) -> None:
    target = tmp_path / "kustomization.yaml"
    target.write_text("images: []\n")
    result = subprocess.run(
        [
            "python3",
            str(ROOT / "scripts" / "set_image.py"),
            str(target),
            "mlapi",
            "r/mlapi",
            "latest",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0


@pytest.mark.parametrize(
    "script",
    [
        "push.sh",
        "scripts/image-test.sh",
        "scripts/build-base-image.sh",
        "scripts/install-deps.sh",
        "scripts/make-secrets.sh",
    ],
)
def test_shell_scripts_parse(script: str) -> None:
    assert subprocess.run(["bash", "-n", str(ROOT / script)]).returncode == 0
