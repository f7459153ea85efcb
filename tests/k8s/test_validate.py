"""Rendered manifests validate against Kubernetes 1.32 (strict) and Istio's schemas."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.istio.networking import v1 as networking
from cloudcoil.models.istio.security import v1 as security

from tests.binaries import require_binary
from tests.k8s.conftest import OVERLAYS, ROOT

K8S_VERSION = "1.32.0"
DEPRECATED = {
    "extensions/v1beta1",
    "apps/v1beta1",
    "apps/v1beta2",
    "autoscaling/v1",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "policy/v1beta1",
    "networking.k8s.io/v1beta1",
    "batch/v1beta1",
    "networking.istio.io/v1alpha3",
    "networking.istio.io/v1beta1",
    "security.istio.io/v1beta1",
}
ISTIO = {
    "Gateway": networking.Gateway,
    "VirtualService": networking.VirtualService,
    "DestinationRule": networking.DestinationRule,
    "PeerAuthentication": security.PeerAuthentication,
    "AuthorizationPolicy": security.AuthorizationPolicy,
}


def unknown_fields(given: Any, known: Any, path: str = "") -> list[str]:
    """Keys in `given` that the schema model dropped (the models themselves allow extras)."""
    if isinstance(given, dict):
        if not isinstance(known, dict):
            return [path or "."]
        out = [f"{path}.{key}" for key in given if key not in known]
        for key in given.keys() & known.keys():
            out += unknown_fields(given[key], known[key], f"{path}.{key}")
        return out
    if isinstance(given, list) and isinstance(known, list):
        return [
            p for g, k in zip(given, known, strict=True) for p in unknown_fields(g, k, f"{path}[]")
        ]
    return []


def istio_errors(doc: dict[str, Any]) -> list[str]:
    model = ISTIO[doc["kind"]].model_validate(doc)
    return unknown_fields(doc, model.model_dump(by_alias=True, exclude_unset=True, mode="json"))


@pytest.mark.parametrize("overlay", [*OVERLAYS, "prod-training", "jobs"])
def test_core_objects_validate_strictly(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    core = [d for d in rendered[overlay] if "istio.io" not in d["apiVersion"]]
    assert core
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_rejects_a_typo() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPrt": 80}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_istio_objects_validate(rendered: dict[str, list[dict[str, Any]]]) -> None:
    istio = [d for d in rendered["prod"] if "istio.io" in d["apiVersion"]]
    assert {d["kind"] for d in istio} == set(ISTIO)
    for doc in istio:
        assert istio_errors(doc) == [], doc["kind"]


def test_istio_validation_catches_typos_and_bad_values(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    gateway = next(d for d in rendered["prod"] if d["kind"] == "Gateway")
    typo = yaml.safe_load(yaml.safe_dump(gateway))
    typo["spec"]["servers"][0]["tls"]["credentialNam"] = "x"
    assert istio_errors(typo) == [".spec.servers[].tls.credentialNam"]
    wrong = yaml.safe_load(yaml.safe_dump(gateway))
    wrong["spec"]["servers"][0]["tls"]["mode"] = "SIMPLEST"
    with pytest.raises(ValueError):
        istio_errors(wrong)


@pytest.mark.parametrize("overlay", [*OVERLAYS, "prod-training", "jobs"])
def test_no_deprecated_api_versions(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    assert not {d["apiVersion"] for d in rendered[overlay]} & DEPRECATED


def test_checkov_passes_on_manifests_and_dockerfile(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    checkov = require_binary("checkov")
    for overlay, docs in rendered.items():
        (tmp_path / f"{overlay}.yaml").write_text(yaml.safe_dump_all(docs))
    (tmp_path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "dockerfile",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary = {r["check_type"]: r["summary"] for r in reports}
    assert set(summary) == {"kubernetes", "dockerfile"}, result.stdout[-2000:]
    failed = [
        c["check_id"] + " " + c["resource"] for r in reports for c in r["results"]["failed_checks"]
    ]
    assert failed == []
    assert all(s["passed"] > 0 for s in summary.values())
