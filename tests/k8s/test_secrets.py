"""`scripts/make-secrets.sh OVERLAY` makes every Secret the rendered overlay references, in its
namespace; the docs give that command and those names."""

from __future__ import annotations

import base64
import os
import subprocess
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import OVERLAYS, ROOT

Docs = dict[str, list[dict[str, Any]]]
SCRIPT = ROOT / "scripts" / "make-secrets.sh"
DOC = ROOT / "docs" / "deploy" / "kubernetes.md"
EXTERNAL = {"mlapi-sentry"}  # needs a value from outside (a DSN): made only when given


def make(overlay: str, **env: str) -> list[dict[str, Any]]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MLAPI_API_KEYS", "MLAPI_ADMIN_KEYS", "SENTRY_DSN"}
    }
    out = subprocess.run(
        ["bash", str(SCRIPT), overlay],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def references(docs: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """(secret, key, optional) of every Secret the pods would read."""
    found = []
    for doc in docs:
        if doc["kind"] not in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    found.append((ref["name"], ref["key"], bool(ref.get("optional"))))
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    ref = source["secretRef"]
                    found.append((ref["name"], "*", bool(ref.get("optional"))))
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                ref = volume["secret"]
                found.append((ref["secretName"], "*", bool(ref.get("optional"))))
    return found


def created(secrets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(s["metadata"]["name"], key) for s in secrets for key in s["data"]}


def namespace(docs: list[dict[str, Any]]) -> str:
    return str(next(d for d in docs if d["kind"] == "Deployment")["metadata"]["namespace"])


@pytest.mark.parametrize("overlay", [*OVERLAYS, "prod-training"])
def test_every_required_reference_is_made(rendered: Docs, overlay: str) -> None:
    secrets = make(overlay)
    made = created(secrets)
    for name, key, optional in references(rendered[overlay]):
        if optional and (overlay == "dev" or name in EXTERNAL):
            continue
        assert (name, key) in made or (key == "*" and name in {n for n, _ in made}), name
    assert {s["metadata"]["namespace"] for s in secrets} == {namespace(rendered[overlay])}


@pytest.mark.parametrize("overlay", [*OVERLAYS, "prod-training"])
def test_with_every_value_given_every_reference_is_made(rendered: Docs, overlay: str) -> None:
    secrets = make(
        overlay, MLAPI_API_KEYS="k1,k2", MLAPI_ADMIN_KEYS="a1", SENTRY_DSN="https://x@y/1"
    )
    refs = {(name, key) for name, key, _ in references(rendered[overlay])}
    made = created(secrets)
    assert {r for r in refs if r[1] != "*"} <= made  # every key referenced is made
    whole = {name for name, key in refs if key == "*"}  # a volume reads every key of its Secret
    assert {m for m in made if m not in refs and m[0] not in whole} == set()  # nothing unused
    assert {name for name, _ in made} == {name for name, _ in refs}
    values = {
        s["metadata"]["name"]: base64.b64decode(next(iter(s["data"].values()))).decode()
        for s in secrets
    }
    assert values["mlapi-api-keys"] == "k1,k2" and values["mlapi-admin-keys"] == "a1"
    assert len(values["mlapi-redis"]) >= 32 and len(values["mlapi-signing"]) >= 32


def test_prod_fails_closed_on_api_keys(rendered: Docs) -> None:
    refs = {(n, k): optional for n, k, optional in references(rendered["prod"])}
    assert refs[("mlapi-api-keys", "keys")] is False
    settings = next(
        d for d in rendered["prod"] if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "mlapi"
    )["data"]
    assert settings["MLAPI_REQUIRE_API_KEYS"] == "true" and settings["MLAPI_DOCS"] == "false"
    keys = [s for s in make("prod") if s["metadata"]["name"] == "mlapi-api-keys"]
    assert len(base64.b64decode(keys[0]["data"]["keys"])) >= 32  # a random key, never empty


def test_fresh_values_each_run() -> None:
    first, second = make("prod"), make("prod")
    assert [s["data"] for s in first] != [s["data"] for s in second]


def test_an_unknown_overlay_is_a_usage_error() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "nope"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage" in result.stderr


def test_the_docs_use_the_same_command_and_names(rendered: Docs) -> None:
    text = DOC.read_text()
    for overlay in OVERLAYS:
        assert f"scripts/make-secrets.sh {overlay} | kubectl create -f -" in text
        assert f"kubectl create namespace {namespace(rendered[overlay])}" in text
    for name, _, _ in references(rendered["prod"]):
        assert f"`{name}`" in text, name


def pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}
    }


@pytest.mark.parametrize("overlay", [*OVERLAYS, "prod-training"])
def test_the_redis_password_and_the_signing_key_are_separate_secrets(
    rendered: Docs, overlay: str
) -> None:
    """Redis reads only its password (a file); the signing key is in a Secret of its own that
    only the mlapi container reads."""
    secrets = {s["metadata"]["name"]: set(s["data"]) for s in make(overlay)}
    assert secrets["mlapi-redis"] == {"password"}
    assert secrets["mlapi-signing"] == {"signing-key"}
    by_pod = {
        name: {
            ref for ref in references([{"kind": "Deployment", "spec": {"template": {"spec": s}}}])
        }
        for name, s in pods(rendered[overlay]).items()
    }
    assert {(n, k) for n, k, _ in by_pod["mlapi-redis"]} == {("mlapi-redis", "*")}
    readers = [pod for pod, refs in by_pod.items() if any(n == "mlapi-signing" for n, _, _ in refs)]
    assert readers == ["mlapi"]


@pytest.mark.parametrize("overlay", [*OVERLAYS, "prod-training", "jobs"])
def test_no_secret_reaches_a_command_line(rendered: Docs, overlay: str) -> None:
    """No container's command or arguments name a variable that holds a Secret (the kubelet
    would expand it into the process list), and Redis has no Secret in its environment."""
    for name, pod in pods(rendered[overlay]).items():
        for container in pod["containers"] + pod.get("initContainers", []):
            secret_vars = {
                e["name"]
                for e in container.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
            line = " ".join(container.get("command", []) + container.get("args", []))
            assert not [v for v in secret_vars if f"$({v})" in line], (name, container["name"])
            if name == "mlapi-redis":
                assert not secret_vars and not container.get("envFrom")
