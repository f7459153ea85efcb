"""Puts trained models into this replica's registry: on success when the job's threshold is
met, on an admin's request, and on other replicas once one has activated a model."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mlapi.errors import InvalidJob, MLAPIError
from mlapi.fleet.control import Fleet
from mlapi.serving.registry import Registry
from mlapi.serving.version import LoadRequest
from mlapi.training.schemas import JOB_ID, Activation, JobRecord

logger = logging.getLogger("mlapi.training")
KIND = "text-classifier"  # what the trainer makes


def output_of(train_dir: Path, job_id: str) -> Path:
    """Where a job's model is: derived from its id, never read from a record."""
    if not JOB_ID.fullmatch(job_id):
        raise InvalidJob(f"{job_id[:40]!r} is not a training job id")
    return train_dir / job_id / "model"


class Activator:
    def __init__(
        self,
        registry: Callable[[], Registry | None],
        train_dir: Path,
        fleet: Callable[[], Fleet | None] = lambda: None,
    ) -> None:
        self._registry = registry
        self._fleet = fleet  # activations write the fleet's desired state
        self._train_dir = train_dir
        self.started_at = time.time()
        self._loaded: set[tuple[str, str | None]] = set()  # (job, activation version) here

    def registry(self) -> Registry | None:
        return self._registry()

    def kind_of(self, name: str) -> str | None:
        """The kind of the model serving under `name` here, None when there is none."""
        registry = self._registry()
        version = registry.version(name) if registry is not None else None
        return version.kind if version is not None else None

    async def on_success(self, record: JobRecord) -> Activation:
        """The job's own rule: `activate` and `eval_accuracy >= min_eval_accuracy`."""
        request, accuracy = record.request, record.progress.eval_accuracy
        if not request.activate:
            return Activation(activated=False, reason="activate was false: kept at output_path")
        if accuracy is None or accuracy < request.min_eval_accuracy:
            return Activation(
                activated=False,
                reason=f"eval_accuracy {accuracy} is below min_eval_accuracy "
                f"{request.min_eval_accuracy}: kept at output_path, not serving "
                "(POST /train/{id}/activate serves it anyway)",
            )
        threshold = request.min_eval_accuracy
        return await self.load(
            record, f"eval_accuracy {accuracy:.4f} >= min_eval_accuracy {threshold}"
        )

    async def load(self, record: JobRecord, reason: str) -> Activation:
        """Loads the job's model through the registry's live swap (old version serves meanwhile)."""
        registry = self._registry()
        if registry is None:
            return Activation(activated=False, reason="the models are not loaded yet")
        fleet = self._fleet()
        try:
            request = self._request(record)
            if fleet is not None:
                deployment = await fleet.load(record.model, request)
            else:
                deployment = await registry.load(registry.resolve(record.model, request))
        except MLAPIError as exc:
            return Activation(activated=False, reason=f"the load failed: {exc.message}")
        activation = Activation(
            activated=True,
            reason=reason,
            version=deployment.version.version,
            fingerprint=deployment.servable.fingerprint,
        )
        self._loaded.add((record.id, activation.version))
        return activation

    def _request(self, record: JobRecord) -> LoadRequest:
        """The load of a job's model: its folder, the trainer's kind, the job's settings."""
        path = str(output_of(self._train_dir, record.id))
        return LoadRequest(path=path, kind=KIND, settings=record.request.model_settings)

    async def follow(self, records: Iterable[JobRecord]) -> None:
        """Loads what another replica activated since this one started (a shared store)."""
        registry = self._registry()
        fleet = self._fleet()
        if registry is None or (fleet is not None and fleet.shared):
            return  # a shared desired state carries activations to every replica
        for record in records:
            activation = record.activation
            if activation is None or not activation.activated or activation.at < self.started_at:
                continue
            key = (record.id, activation.version)
            if key in self._loaded:
                continue
            self._loaded.add(key)
            try:  # the same checks as an admin load: name, settings, folder under the roots
                await registry.load(registry.resolve(record.model, self._request(record)))
            except MLAPIError as exc:
                logger.error("could not follow activation of job %s: %s", record.id, exc.message)
