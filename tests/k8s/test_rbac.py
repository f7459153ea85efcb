"""The service account may only manage Jobs in its own namespace (the train API's runner)."""

from __future__ import annotations

from typing import Any

import pytest

from mlapi.training.runners.kubernetes import BatchApi
from tests.k8s.conftest import OVERLAYS, find

Docs = dict[str, list[dict[str, Any]]]
# BatchV1Api method -> (resource, verb) it needs on the API server.
CALLS = {
    "create_namespaced_job": ("jobs", "create"),
    "read_namespaced_job_status": ("jobs/status", "get"),
    "delete_namespaced_job": ("jobs", "delete"),
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_role_grants_only_jobs_in_the_namespace(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
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


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_binding_gives_the_role_to_the_services_account(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    binding = find(docs, "RoleBinding", "mlapi-train-jobs")
    role = find(docs, binding["roleRef"]["kind"], binding["roleRef"]["name"])
    deployment = find(docs, "Deployment", "mlapi")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"]["namespace"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    ]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    find(docs, "ServiceAccount", account)
