"""The kubernetes runner: Jobs rendered from .k8s/jobs, driven through recorded API calls."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mlapi.settings import Settings
from mlapi.training.runners.base import RunSpec
from mlapi.training.runners.kubernetes import (
    DEFAULT_TEMPLATE,
    JOB_LABEL,
    KubernetesRunner,
    TemplateError,
    load_template,
    render_job,
)
from mlapi.training.schemas import TrainRequest
from mlapi.training.service import JobService
from mlapi.training.store import SQLiteJobStore
from tests.training.fake_kubernetes import K8S_VERSION, FakeBatchApi

NS = "mlapi"


def test_the_job_is_the_template_with_this_runs_arguments_and_limits() -> None:
    template = load_template(DEFAULT_TEMPLATE, Path("/work/train"))
    spec = RunSpec(
        "abc123",
        ("--base-model=/work/base", "--output=/work/train/abc123/model"),
        Path("/work/train/abc123"),
        Path("/work/train/abc123/model"),
    )
    job = render_job(
        template, spec, image="reg/trainer:sha", backoff_limit=2, ttl_s=600, deadline_s=900
    )
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert job["metadata"]["name"] == "mlapi-train-abc123"
    assert job["metadata"]["labels"][JOB_LABEL] == "abc123"
    assert job["spec"]["template"]["metadata"]["labels"][JOB_LABEL] == "abc123"
    assert (job["spec"]["backoffLimit"], job["spec"]["ttlSecondsAfterFinished"]) == (2, 600)
    assert job["spec"]["activeDeadlineSeconds"] == 900
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "reg/trainer:sha"
    assert container["args"] == [*spec.args, "--threads=4"]  # the template's CPU limit
    assert template["metadata"]["name"] == "mlapi-trainer"  # the template is left as it was


def test_the_service_must_see_the_jobs_claim(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="is not on the claim the Job mounts at /work"):
        load_template(DEFAULT_TEMPLATE, Path("/srv/train"))
    not_a_job = tmp_path / "x.yaml"
    not_a_job.write_text("kind: Deployment\n")
    with pytest.raises(TemplateError, match="is not a Job"):
        load_template(not_a_job, Path("/work"))


class Cluster:
    """A JobService with the kubernetes runner against the fake API, the claim in tmp_path."""

    def __init__(self, tmp_path: Path, base: Path, dataset: Path, owner: str = "replica-a"):
        template = yaml.safe_load(DEFAULT_TEMPLATE.read_text())
        pod = template["spec"]["template"]["spec"]
        pod["containers"][0]["volumeMounts"][0]["mountPath"] = str(tmp_path)
        self.settings = Settings(
            train_dir=tmp_path / "train", train_data_roots=str(tmp_path), train_stale_s=5
        )
        self.api = FakeBatchApi()
        self.runner = KubernetesRunner(self.api, NS, load_template_from(template, self.settings))
        self.store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
        self.service = JobService(self.settings, self.store, self.runner, lambda: None, owner)
        self.request = TrainRequest(
            model="sentiment", base_model=str(base), dataset=str(dataset), activate=True
        )


def load_template_from(template: dict[str, Any], settings: Settings) -> dict[str, Any]:
    path = settings.train_dir.parent / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    return load_template(path, settings.train_dir)


def report(output: Path, **progress: Any) -> None:
    """What the trainer in the pod writes onto the claim."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "progress.json").write_text(json.dumps(progress))


def test_a_job_runs_reports_progress_and_completes(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    cluster = Cluster(tmp_path, model_dir, dataset)
    service, api = cluster.service, cluster.api

    async def scenario() -> None:
        job = await service.submit(cluster.request)
        await service.tick()
        (call, namespace, body) = api.calls[0]
        assert (call, namespace, body["metadata"]["name"]) == (
            "create",
            NS,
            f"mlapi-train-{job.id}",
        )
        assert (
            f"--output={job.output_path}"
            in body["spec"]["template"]["spec"]["containers"][0]["args"]
        )
        assert (await service.get(job.id)).state == "running"
        report(Path(job.output_path), state="running", step=3, total_steps=10, loss=0.5)
        await service.tick()
        running = await service.get(job.id)
        assert (running.progress.step, running.progress.loss) == (3, 0.5)
        report(
            Path(job.output_path),
            state="succeeded",
            step=10,
            total_steps=10,
            loss=0.2,
            eval_accuracy=0.9,
        )
        api.finish(f"mlapi-train-{job.id}", NS, "Complete", "CompletionsReached", "done")
        await service.tick()
        done = await service.get(job.id)
        assert done.state == "succeeded" and done.progress.eval_accuracy == 0.9
        assert done.activation is not None and not done.activation.activated
        assert done.activation.reason == "the models are not loaded yet"
        assert [c[0] for c in api.calls] == ["create", "read_status", "read_status"]

    asyncio.run(scenario())


def test_a_failed_job_says_why(tmp_path: Path, model_dir: Path, dataset: Path) -> None:
    cluster = Cluster(tmp_path, model_dir, dataset)
    service, api = cluster.service, cluster.api

    async def scenario() -> None:
        job = await service.submit(cluster.request)
        await service.tick()
        report(Path(job.output_path), state="failed", error="data.tsv:3: unknown label 'MAYBE'")
        api.finish(
            f"mlapi-train-{job.id}",
            NS,
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )
        await service.tick()
        done = await service.get(job.id)
        assert done.state == "failed" and done.error is not None
        assert done.error.startswith("data.tsv:3: unknown label 'MAYBE' [Job mlapi-train-")
        assert "BackoffLimitExceeded" in done.error

    asyncio.run(scenario())


def test_cancel_deletes_the_job_and_its_pods(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    cluster = Cluster(tmp_path, model_dir, dataset)
    service, api = cluster.service, cluster.api

    async def scenario() -> None:
        job = await service.submit(cluster.request)
        await service.tick()
        cancelled = await service.cancel(job.id)
        assert cancelled.state == "cancelled"
        name = f"mlapi-train-{job.id}"
        assert api.calls[-1] == ("delete", NS, {"name": name, "propagation": "Background"})
        assert not api.jobs

    asyncio.run(scenario())


def test_a_job_deleted_behind_our_back_fails(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    cluster = Cluster(tmp_path, model_dir, dataset)

    async def scenario() -> None:
        job = await cluster.service.submit(cluster.request)
        await cluster.service.tick()
        cluster.api.jobs.clear()
        await cluster.service.tick()
        done = await cluster.service.get(job.id)
        assert done.state == "failed" and "no longer exists" in str(done.error)

    asyncio.run(scenario())


def test_another_replica_takes_over_a_silent_replicas_job(
    tmp_path: Path, model_dir: Path, dataset: Path
) -> None:
    first = Cluster(tmp_path, model_dir, dataset, owner="replica-a")
    second = JobService(first.settings, first.store, first.runner, lambda: None, "replica-b")

    async def scenario() -> None:
        job = await first.service.submit(first.request)
        await first.service.tick()
        await second.tick()
        assert (await second.get(job.id)).owner == "replica-a"  # still heard from
        record = await second.get(job.id)
        await first.store.put(record.model_copy(update={"updated_at": time.time() - 60}))
        await second.tick()
        assert (await second.get(job.id)).owner == "replica-b"
        first.api.finish(f"mlapi-train-{job.id}", NS, "Complete", "CompletionsReached", "")
        await second.tick()
        assert (await second.get(job.id)).state == "succeeded"

    asyncio.run(scenario())
