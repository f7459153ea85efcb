"""A batch/v1 Job per run, rendered from the trainer template in `.k8s/jobs/`.

The Job writes into the shared PersistentVolumeClaim of the template, which the service mounts
at the same path (MLAPI_TRAIN_DIR), so the output folder and `progress.json` are read in place.
Status comes from the Job's conditions (Complete / Failed). The `kubernetes` client is
synchronous: every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import yaml

from mlapi.training.progress import read_progress
from mlapi.training.runners.base import RunSpec, RunStatus

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / ".k8s" / "jobs" / "trainer-job.yaml"
JOB_LABEL = "mlapi.io/train-job"


class BatchApi(Protocol):
    """The calls made on `kubernetes.client.BatchV1Api`."""

    def create_namespaced_job(self, namespace: str, body: Any) -> Any: ...

    def read_namespaced_job_status(self, name: str, namespace: str) -> Any: ...

    def delete_namespaced_job(
        self, name: str, namespace: str, *, propagation_policy: str | None = None
    ) -> Any: ...


class TemplateError(ValueError):
    """The Job template cannot run the service's jobs (the message says why)."""


def job_name(job_id: str) -> str:
    return f"mlapi-train-{job_id}"


def _claim_mount(template: dict[str, Any]) -> PurePosixPath:
    pod = template["spec"]["template"]["spec"]
    claims = [v["name"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v]
    for mount in pod["containers"][0].get("volumeMounts", []):
        if mount["name"] in claims:
            return PurePosixPath(mount["mountPath"])
    raise TemplateError("the Job template mounts no PersistentVolumeClaim into its container")


def load_template(path: Path, train_dir: Path) -> dict[str, Any]:
    """The template, checked: a Job whose claim is mounted where the service keeps jobs."""
    try:
        template = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read the Job template {path}: {exc}") from exc
    if not isinstance(template, dict) or template.get("kind") != "Job":
        raise TemplateError(f"{path} is not a Job")
    mount = _claim_mount(template)
    if not PurePosixPath(train_dir).is_relative_to(mount):
        raise TemplateError(
            f"MLAPI_TRAIN_DIR={train_dir} is not on the claim the Job mounts at {mount}: "
            "mount the same claim in mlapi at the same path"
        )
    return template


def render_job(
    template: dict[str, Any],
    spec: RunSpec,
    *,
    image: str | None,
    backoff_limit: int,
    ttl_s: int,
    deadline_s: int,
) -> dict[str, Any]:
    job = copy.deepcopy(template)
    name = job_name(spec.job_id)
    metadata = job.setdefault("metadata", {})
    metadata["name"] = name
    metadata.pop("namespace", None)
    labels = {**metadata.get("labels", {}), JOB_LABEL: spec.job_id}
    metadata["labels"] = labels
    job["spec"].update(
        backoffLimit=backoff_limit, ttlSecondsAfterFinished=ttl_s, activeDeadlineSeconds=deadline_s
    )
    pod_meta = job["spec"]["template"].setdefault("metadata", {})
    pod_meta["labels"] = {**pod_meta.get("labels", {}), JOB_LABEL: spec.job_id}
    container = job["spec"]["template"]["spec"]["containers"][0]
    if image:
        container["image"] = image
    args = list(spec.args)
    cpu = str(container.get("resources", {}).get("limits", {}).get("cpu", ""))
    if cpu.isdigit():
        args.append(f"--threads={cpu}")
    container["args"] = args
    return job


class KubernetesRunner:
    name = "kubernetes"
    adopts = True

    def __init__(
        self,
        api: BatchApi,
        namespace: str,
        template: dict[str, Any],
        *,
        image: str | None = None,
        backoff_limit: int = 1,
        ttl_s: int = 86_400,
        deadline_s: int = 21_600,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.template = template
        self.image = image
        self.backoff_limit = backoff_limit
        self.ttl_s = ttl_s
        self.deadline_s = deadline_s

    async def start(self, spec: RunSpec) -> None:
        body = render_job(
            self.template,
            spec,
            image=self.image,
            backoff_limit=self.backoff_limit,
            ttl_s=self.ttl_s,
            deadline_s=self.deadline_s,
        )
        await asyncio.to_thread(self.api.create_namespaced_job, self.namespace, body)

    async def poll(self, spec: RunSpec) -> RunStatus:
        from kubernetes.client.exceptions import ApiException

        name = job_name(spec.job_id)
        try:
            job = await asyncio.to_thread(self.api.read_namespaced_job_status, name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return RunStatus("failed", f"Job {name} no longer exists (deleted or expired)")
            raise
        for condition in (job.status and job.status.conditions) or []:
            if condition.status != "True":
                continue
            if condition.type == "Complete":
                return RunStatus("succeeded")
            if condition.type == "Failed":
                trainer = read_progress(spec.output).get("error")
                why = f"Job {name} failed ({condition.reason}: {condition.message})"
                return RunStatus("failed", f"{trainer} [{why}]" if trainer else why)
        return RunStatus("running")

    async def cancel(self, spec: RunSpec) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            await asyncio.to_thread(
                self.api.delete_namespaced_job,
                job_name(spec.job_id),
                self.namespace,
                propagation_policy="Background",  # the Job's pods go too (the API's default: kept)
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def close(self) -> None:
        return None


def in_cluster_api() -> BatchApi:
    """BatchV1Api with the pod's service account (in-cluster configuration)."""
    from kubernetes import client, config

    config.load_incluster_config()  # type: ignore[no-untyped-call]
    api: BatchApi = client.BatchV1Api()
    return api


def own_namespace() -> str:
    try:
        return NAMESPACE_FILE.read_text().strip()
    except OSError as exc:
        raise TemplateError(
            f"no namespace: set MLAPI_TRAIN_NAMESPACE (outside a pod; {exc})"
        ) from exc
