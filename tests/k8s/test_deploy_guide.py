"""docs/deploy/kubernetes.md names everything the rendered bundle assumes of a cluster outside
itself, with a command that checks it; the host and issuer are set before anything is applied."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from tests.binaries import require_binary
from tests.k8s.conftest import ROOT

Docs = list[dict[str, Any]]
GUIDE = ROOT / "docs" / "deploy" / "kubernetes.md"
OWN_LABELS = ("app.kubernetes.io/",)


def render(folder: str) -> Docs:
    out = subprocess.run(
        [require_binary("kubectl"), "kustomize", str(ROOT / ".k8s" / folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def labels(selector: dict[str, Any]) -> list[str]:
    return [f"{key}={value}" for key, value in selector.get("matchLabels", selector).items()]


def external_names(docs: Docs) -> set[str]:
    """Names, labels and APIs of other parts of the cluster that these objects refer to."""
    names: set[str] = set()
    for doc in docs:
        kind, spec = doc["kind"], doc.get("spec", {})
        if kind == "NetworkPolicy":
            for rule in spec.get("ingress", []):
                for peer in rule.get("from", []):
                    if "namespaceSelector" in peer:  # another namespace, and pods there
                        names.update(v for _, v in peer["namespaceSelector"]["matchLabels"].items())
                        names.update(labels(peer.get("podSelector", {})))
        elif kind == "Gateway":
            names.update(labels(spec["selector"]))
            names.update(
                s["tls"]["credentialName"]
                for s in spec["servers"]
                if "credentialName" in s.get("tls", {})
            )
        elif kind == "AuthorizationPolicy":
            for rule in spec.get("rules", []):
                for source in rule.get("from", []):
                    for principal in source["source"].get("principals", []):
                        names.add(principal)
                        _, _, namespace, _, account = principal.split("/")
                        names.update((namespace, account))
        elif kind == "Certificate":
            names.update((doc["metadata"]["namespace"], spec["secretName"]))
            names.update((spec["issuerRef"]["kind"], spec["issuerRef"]["name"]))
        elif kind == "HorizontalPodAutoscaler":
            names.add("metrics-server")
        elif kind == "PersistentVolumeClaim":
            names.update(spec["accessModes"])
            names.add(spec.get("storageClassName", "storageClassName"))
        if "istio.io" in doc["apiVersion"] or "admissionregistration" in doc["apiVersion"]:
            names.add(doc["apiVersion"])
        for key, value in doc["metadata"].get("labels", {}).items():
            if not key.startswith(OWN_LABELS):
                names.add(f"{key}={value}" if kind == "Namespace" else key)
    return names


def prerequisite_rows() -> list[list[str]]:
    text = GUIDE.read_text()
    section = text.split("## What each overlay assumes", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| overlay")
    ]


def spelled(name: str) -> tuple[str, ...]:
    """How the guide may write a name: `key=value`, or `key: value` as in the YAML."""
    key, _, value = name.partition("=")
    return (name, f"{key}: {value}") if value else (name,)


def test_every_external_name_has_a_row_with_a_check() -> None:
    rows = prerequisite_rows()
    assert rows
    docs = [*render("overlays/prod"), *render("overlays/prod/certificate")]
    names = external_names(docs) | external_names(render("overlays/prod-training"))
    expected = {
        "istio-system",
        "monitoring",
        "istio=ingressgateway",
        "app.kubernetes.io/name=prometheus",
        "istio-ingressgateway-service-account",
        "letsencrypt",
        "ClusterIssuer",
        "istio-injection=enabled",
        "metrics-server",
        "ReadWriteMany",
        "storageClassName",
    }
    assert expected <= names
    unchecked = [
        name
        for name in sorted(names)
        if not any(
            any(form in " ".join(row) for form in spelled(name)) and "kubectl" in row[2]
            for row in rows
        )
    ]
    assert unchecked == []


def test_host_and_issuer_are_set_before_anything_is_applied() -> None:
    text = GUIDE.read_text()
    for step in ("$HOST/g", "$ISSUER/", "kubectl apply -k .k8s/overlays/prod/certificate"):
        assert text.index(step) < text.index("kubectl apply -k .k8s/overlays/prod\n"), step
    certificate = render("overlays/prod/certificate")
    hosts = {
        h
        for doc in render("overlays/prod")
        if doc["kind"] == "Gateway"
        for s in doc["spec"]["servers"]
        for h in s["hosts"]
    }
    assert {n for doc in certificate for n in doc["spec"]["dnsNames"]} == hosts
    for path in (
        "overlays/prod/mlapi-gateway.yaml",
        "overlays/prod/mlapi-virtualservice.yaml",
        "overlays/prod/certificate/mlapi-certificate.yaml",
    ):
        assert path in text, path
        assert all(host in (ROOT / ".k8s" / path).read_text() for host in hosts), path


def test_local_clusters_load_the_image_from_podman_or_docker() -> None:
    text = GUIDE.read_text()
    for command in (
        "make image IMAGE=mlapi:dev MODEL_DIR=",
        "podman save --format docker-archive",
        "kind load image-archive",
        "kind load docker-image mlapi:dev",
        "minikube image load",
    ):
        assert command in text, command


def test_the_guide_says_who_reaches_dev() -> None:
    text = GUIDE.read_text()
    assert "http://mlapi.mlapi-dev:8000" in text
    patch = "overlays/dev/mlapi-networkpolicy-patch.yaml"
    assert patch in text and (ROOT / ".k8s" / patch).is_file()
