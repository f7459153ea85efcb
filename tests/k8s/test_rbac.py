"""The runner's identity may only manage Jobs in its own namespace (components/training)."""

from __future__ import annotations

from typing import Any

from mlapi.training.runners.kubernetes import BatchApi
from tests.k8s.conftest import find

Docs = dict[str, list[dict[str, Any]]]
# BatchV1Api method -> (resource, verb) it needs on the API server.
CALLS = {
    "create_namespaced_job": ("jobs", "create"),
    "read_namespaced_job_status": ("jobs/status", "get"),
    "delete_namespaced_job": ("jobs", "delete"),
}


def test_the_role_grants_only_jobs_in_the_namespace(rendered: Docs) -> None:
    docs = rendered["prod-training"]
    assert not [d for d in docs if d["kind"] in {"ClusterRole", "ClusterRoleBinding"}]
    role = find(docs, "Role", "mlapi-train-jobs")
    granted = {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if rule["apiGroups"] == ["batch"]
    }
    assert all(rule["apiGroups"] == ["batch"] for rule in role["rules"])
    assert granted == set(CALLS.values())
    assert set(CALLS) == {m for m in dir(BatchApi) if not m.startswith("_")}


def test_the_binding_gives_the_role_to_the_runners_account(rendered: Docs) -> None:
    docs = rendered["prod-training"]
    binding = find(docs, "RoleBinding", "mlapi-train-jobs")
    role = find(docs, binding["roleRef"]["kind"], binding["roleRef"]["name"])
    deployment = find(docs, "Deployment", "mlapi")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"]["namespace"]
    assert account == "mlapi-train-runner"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    ]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    find(docs, "ServiceAccount", account)
