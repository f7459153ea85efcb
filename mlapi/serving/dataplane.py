"""One path for every protocol: a model, its inputs, and the answers from cache or batcher.

A codec (`mlapi.protocols`) finds its model here and calls `infer` with neutral inputs (texts,
or rows of numbers). `infer` makes the model's cache keys (the per-request limits), holds the
version while it answers, and goes through the cache, in-flight dedup and the batcher
(`Deployment.predict`); a canary (`mlapi.serving.canary`) answers its share. No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlapi.errors import ModelNotFound
from mlapi.kinds import Capability, Decoded, Servable
from mlapi.serving.deployment import Deployment
from mlapi.serving.registry import Registry


@dataclass(slots=True)
class Result:
    """One stored value per input, in order; `outcome` is `Hit`, `Miss` or `Partial`, and
    `version` the version(s) that answered."""

    values: list[bytes]
    outcome: str
    version: str
    servable: Servable

    def decoded(self) -> Decoded:
        return self.servable.decode(self.values)


class DataPlane:
    """The models of a ready registry, and inference on them."""

    __slots__ = ("registry",)

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def model(self, name: str | None, version: str | None = None) -> Deployment:
        """A model by name (None: the default model), optionally at one version."""
        if name is None:
            return self.registry.default
        return self.registry.get(name, version)

    def first(self, capability: Capability) -> Deployment:
        """The first configured model that can do `capability` (what `/embed` serves)."""
        registry = self.registry
        for name in registry.names():
            version = registry.version(name)
            if version is not None and registry.kinds[version.kind].capability is capability:
                return registry.get(name)
        raise ModelNotFound(f"no model that can {capability.value} is configured (MLAPI_MODELS)")

    async def infer(self, deployment: Deployment, items: list[Any]) -> Result:
        with deployment.use():
            keys = deployment.servable.keys(items, deployment.settings)
            canary = self.registry.canary_for(deployment)
            if canary is None:
                values, outcome = await deployment.predict(keys)
                version = deployment.version.version
            else:
                values, outcome, version = await canary.predict(deployment, keys)
        return Result(values, outcome, version, deployment.servable)
