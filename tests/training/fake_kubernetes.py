"""BatchV1Api's calls as a fake that records them and answers with the client's own models.

Bodies are checked against the Kubernetes 1.32 schema (strict) and turned into `V1Job` by the
client's deserializer, as a server's answer would be. No API server runs here: Debian ships no
kube-apiserver (only kubectl), and nothing else can be fetched.
"""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
from kubernetes.client import ApiClient, V1Job, V1JobCondition, V1JobStatus, V1Status
from kubernetes.client.exceptions import ApiException

K8S_VERSION = "1.32.0"


class FakeBatchApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.jobs: dict[tuple[str, str], V1Job] = {}
        self._client = ApiClient()

    def create_namespaced_job(self, namespace: str, body: Any) -> V1Job:
        self.calls.append(("create", namespace, body))
        kubernetes_validate.validate(body, K8S_VERSION, strict=True)
        key = (namespace, body["metadata"]["name"])
        if key in self.jobs:
            raise ApiException(status=409, reason="AlreadyExists")
        stored = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
        stored["status"] = {"active": 1}
        job: V1Job = self._client.deserialize(json.dumps(stored), "V1Job", "application/json")
        self.jobs[key] = job
        return job

    def read_namespaced_job_status(self, name: str, namespace: str) -> V1Job:
        self.calls.append(("read_status", namespace, name))
        if (namespace, name) not in self.jobs:
            raise ApiException(status=404, reason="Not Found")
        return self.jobs[(namespace, name)]

    def delete_namespaced_job(
        self, name: str, namespace: str, *, propagation_policy: str | None = None
    ) -> V1Status:
        self.calls.append(("delete", namespace, {"name": name, "propagation": propagation_policy}))
        if self.jobs.pop((namespace, name), None) is None:
            raise ApiException(status=404, reason="Not Found")
        return V1Status(status="Success")

    def finish(self, name: str, namespace: str, type_: str, reason: str, message: str) -> None:
        """What the Job controller does when the pod ends."""
        condition = V1JobCondition(type=type_, status="True", reason=reason, message=message)
        self.jobs[(namespace, name)].status = V1JobStatus(conditions=[condition])
