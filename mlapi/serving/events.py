"""What the registry tells the rest of the service: a version loaded, a load failed, a model
unloaded. Metrics and logs are two listeners; the registry knows neither."""

from __future__ import annotations

import logging
from typing import Protocol

from mlapi.observability import metrics
from mlapi.serving.deployment import Deployment
from mlapi.serving.version import ModelVersion

logger = logging.getLogger("mlapi.registry")


class Listener(Protocol):
    def loaded(self, new: Deployment, old: Deployment | None, seconds: float) -> None: ...

    def failed(self, version: ModelVersion, error: str) -> None: ...

    def unloaded(self, name: str) -> None: ...


class MetricsListener:
    """`mlapi_model_swaps_total` and `mlapi_model_info`; an unload removes every series of
    the model (called after its drain: nothing re-creates one)."""

    def loaded(self, new: Deployment, old: Deployment | None, seconds: float) -> None:
        version, card = new.version, new.card()
        metrics.MODEL_SWAPS.labels(model=version.name, outcome="loaded").inc()
        selection = card.selection or {}
        metrics.MODEL_INFO.labels(model=version.name).info(
            {
                "name": card.name,
                "kind": new.kind.name,
                "version": version.version,
                "backend": card.backend,
                "variant": card.backend,
                "cpu": ",".join(selection.get("cpu", ())),
            }
        )

    def failed(self, version: ModelVersion, error: str) -> None:
        metrics.MODEL_SWAPS.labels(model=version.name, outcome="failed").inc()

    def unloaded(self, name: str) -> None:
        metrics.forget_model(name)


class LogListener:
    """One line per event, the model's card with the load."""

    def loaded(self, new: Deployment, old: Deployment | None, seconds: float) -> None:
        logger.info(
            "model loaded",
            extra={
                "model": new.version.name,
                "version": new.version.version,
                "fingerprint": new.servable.fingerprint,
                "seconds": round(seconds, 3),
                "replaced": old.version.version if old else None,
                "card": new.card().model_dump(),
            },
        )

    def failed(self, version: ModelVersion, error: str) -> None:
        logger.warning("load of %s from %s failed: %s", version.name, version.path, error)

    def unloaded(self, name: str) -> None:
        logger.info("model unloaded", extra={"model": name})


LISTENERS: tuple[Listener, ...] = (MetricsListener(), LogListener())
