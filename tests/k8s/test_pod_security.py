"""Pod Security `restricted`: the namespaces enforce it, and every pod of the bundle meets it
(the serving pods, Redis, the trainer Job the runner renders, the one-off Job). The checks are
the profile's controls (kubernetes.io/docs/concepts/security/pod-security-standards), those that
a pod spec can break."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import OVERLAYS

Docs = dict[str, list[dict[str, Any]]]
Pod = dict[str, Any]
VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SECCOMP = {"RuntimeDefault", "Localhost"}


def restricted_violations(pod: Pod) -> list[str]:
    out = []
    context = pod.get("securityContext", {})
    containers = pod["containers"] + pod.get("initContainers", [])
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            out.append(host)
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= VOLUMES:
            out.append(f"volume {volume['name']}: {sorted(kinds - VOLUMES)}")
    pod_seccomp = context.get("seccompProfile", {}).get("type")
    for c in containers:
        own = c.get("securityContext", {})
        where = f"container {c['name']}"
        if own.get("privileged"):
            out.append(f"{where}: privileged")
        if own.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation not false")
        if own.get("runAsNonRoot", context.get("runAsNonRoot")) is not True:
            out.append(f"{where}: runAsNonRoot not true")
        if own.get("runAsUser", context.get("runAsUser")) == 0:
            out.append(f"{where}: runAsUser 0")
        if own.get("seccompProfile", {}).get("type", pod_seccomp) not in SECCOMP:
            out.append(f"{where}: seccomp not RuntimeDefault or Localhost")
        capabilities = own.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            out.append(f"{where}: capabilities not dropped")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{where}: capabilities added")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            out.append(f"{where}: hostPort")
        if own.get("procMount", "Default") != "Default":
            out.append(f"{where}: procMount")
    return out


def all_pods(rendered: Docs, tmp_path: Path) -> dict[str, Pod]:
    from tests.k8s.test_training import runner_job

    pods = {
        f"{overlay}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
        for overlay in (*OVERLAYS, "prod-training", "jobs")
        for d in rendered[overlay]
        if d["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}
    }
    pods["prod-training/runner's Job"] = runner_job(rendered, tmp_path)["spec"]["template"]["spec"]
    for doc in rendered["prod-training"]:  # the template as mounted into mlapi
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("mlapi-trainer-job"):
            job = yaml.safe_load(doc["data"]["trainer-job.yaml"])
            pods["prod-training/trainer template"] = job["spec"]["template"]["spec"]
    return pods


def test_every_pod_meets_restricted(rendered: Docs, tmp_path: Path) -> None:
    pods = all_pods(rendered, tmp_path)
    names = set(pods)
    assert {"prod/mlapi", "prod/mlapi-redis", "dev/mlapi-redis", "jobs/mlapi-trainer"} <= names
    assert {"prod-training/runner's Job", "prod-training/trainer template"} <= names
    assert {name: restricted_violations(pod) for name, pod in pods.items()} == {
        name: [] for name in pods
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        lambda p: p["containers"][0]["securityContext"]["capabilities"].update(drop=[]),
        lambda p: p["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        lambda p: p["containers"][0]["securityContext"].update(runAsNonRoot=False),
        lambda p: p["securityContext"].update(runAsUser=0),
        lambda p: p["containers"][0].update(ports=[{"containerPort": 1, "hostPort": 1}]),
    ],
)
def test_the_check_sees_a_violation(rendered: Docs, tmp_path: Path, change: Any) -> None:
    pod = copy.deepcopy(all_pods(rendered, tmp_path)["prod/mlapi-redis"])
    change(pod)
    assert restricted_violations(pod)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespace_enforces_restricted(rendered: Docs, overlay: str) -> None:
    [namespace] = [d for d in rendered[overlay] if d["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    namespaced = {
        d["metadata"].get("namespace") for d in rendered[overlay] if d["kind"] != "Namespace"
    }
    assert namespaced == {namespace["metadata"]["name"]}  # every pod lands under the label
