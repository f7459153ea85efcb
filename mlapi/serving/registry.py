"""Named models, each serving one version; a new version is built beside the old one.

A swap loads and warms the new version (`mlapi.serving.deployment`) while the old one keeps serving,
replaces the slot's reference in one assignment, then lets the old version finish what it
accepted and frees it, after the slot's lock is released. One load per name at a time.
Listeners (`mlapi.serving.events`: metrics, logs) hear of every load, failure and unload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlapi.errors import ModelInUse, ModelLoadFailed, ModelNotFound, NotReady
from mlapi.fleet.admission import check_name, check_path, check_version, model_roots
from mlapi.kinds import ModelKind, ModelSpec
from mlapi.serving.deployment import Deployment, build
from mlapi.serving.events import LISTENERS, Listener
from mlapi.settings import Settings
from mlapi.settings.per_model import InvalidModelSettings

logger = logging.getLogger("mlapi.registry")


def next_version(version: str) -> str:
    """The version a new load of a model serving `version` gets by default."""
    return str(int(version) + 1) if version.isdigit() else f"{version}+1"


@dataclass
class Slot:
    name: str
    spec: ModelSpec
    current: Deployment | None = None
    error: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Registry:
    def __init__(
        self,
        settings: Settings,
        specs: list[ModelSpec],
        kinds: dict[str, ModelKind],
        default: str,
        listeners: tuple[Listener, ...] = LISTENERS,
    ) -> None:
        self.settings = settings
        self.listeners = listeners
        self.kinds = kinds
        self.default_name = default
        self.slots = {spec.name: Slot(spec.name, spec) for spec in specs}
        self.configured = set(self.slots)
        self.roots = model_roots(settings, (spec.path for spec in specs))

    async def start(self) -> None:
        """Loads every configured model; a model that fails stops the start."""
        for slot in list(self.slots.values()):
            if slot.current is None:  # not loaded already from a desired state
                await self.load(slot.name)

    def ready(self) -> bool:
        return all(self.slots[n].current is not None for n in self.configured)

    def get(self, name: str, version: str | None = None) -> Deployment:
        slot = self.slots.get(name)
        if slot is None:
            raise ModelNotFound(f"no model named {name!r}; GET /models lists them")
        deployment = slot.current
        if deployment is None:
            raise NotReady(f"model {name!r} is not loaded", headers={"Retry-After": "1"})
        if version is not None and version != deployment.version:
            raise ModelNotFound(
                f"model {name!r} serves version {deployment.version}, not {version!r}"
            )
        return deployment

    @property
    def default(self) -> Deployment:
        return self.get(self.default_name)

    def _spec_for(
        self,
        name: str,
        path: Path | None,
        version: str | None,
        kind: str | None,
        overrides: dict[str, Any] | None,
    ) -> ModelSpec:
        slot = self.slots.get(name)
        if slot is None:
            root = self.settings.model_repository
            if path is None and root is not None:
                path = root / name
            if path is None:
                raise ModelNotFound(f"no model named {name!r} and no path to load it from")
            return ModelSpec(name, path, kind or "text-classifier", version or "1", overrides or {})
        spec = slot.spec
        if slot.current is not None:
            old = slot.current.version
            version = version or next_version(old)
        return dataclasses.replace(
            spec,
            path=path or spec.path,
            kind=kind or spec.kind,
            version=version or spec.version,
            overrides={**spec.overrides, **(overrides or {})},
        )

    def _prepare(
        self,
        name: str,
        path: Path | None,
        version: str | None,
        kind: str | None,
        overrides: dict[str, Any] | None,
        exact: bool,
    ) -> tuple[ModelSpec, Settings]:
        """The spec of a load and its settings, checked once (`mlapi.fleet.admission`): name,
        version, settings, and a folder under the model roots."""
        check_name(name)
        check_version(version)
        if path is not None:
            path = check_path(path, self.roots)
        spec = self._spec_for(name, path, version, kind, overrides)
        if exact:  # the settings given, not merged into the serving version's
            spec = dataclasses.replace(spec, overrides=dict(overrides or {}))
        if spec.kind not in self.kinds:
            raise ModelLoadFailed(f"unknown kind {spec.kind!r}; known: {sorted(self.kinds)}")
        try:
            settings = spec.settings(self.settings)
        except InvalidModelSettings as exc:
            raise ModelLoadFailed(f"invalid settings for {name!r}: {exc}") from None
        return spec, settings

    async def _build(self, slot: Slot, spec: ModelSpec, settings: Settings) -> Deployment:
        try:
            new = await build(spec, self.kinds[spec.kind], settings)
        except Exception as exc:  # a broken folder: the old version keeps serving
            slot.error = f"{type(exc).__name__}: {exc}"
            for listener in self.listeners:
                listener.failed(spec, slot.error)
            serving = f"; version {slot.current.version} keeps serving" if slot.current else ""
            raise ModelLoadFailed(
                f"could not load {spec.name!r} from {spec.path}: {slot.error}{serving}"
            ) from exc
        new.predictor.batcher.start()
        return new

    async def load(
        self,
        name: str,
        path: Path | None = None,
        *,
        version: str | None = None,
        kind: str | None = None,
        overrides: dict[str, Any] | None = None,
        exact: bool = False,
    ) -> Deployment:
        """Load `name` (a new version when it serves already); the old one serves until then.

        `exact`: the version's settings are `overrides` alone (a desired state), not merged
        into the serving version's."""
        spec, settings = self._prepare(name, path, version, kind, overrides, exact)
        slot = self.slots.setdefault(name, Slot(name, spec))
        async with slot.lock:
            started = time.perf_counter()
            new = await self._build(slot, spec, settings)
            old = self._swap(slot, new, started)
        await self._retire(old)
        return new

    async def build_beside(
        self,
        name: str,
        path: Path,
        *,
        version: str,
        overrides: dict[str, Any] | None = None,
    ) -> Deployment:
        """A second version of a serving model (a canary), loaded and warmed but not swapped."""
        slot = self.slots.get(name)
        if slot is None or slot.current is None:
            raise ModelNotFound(f"no model named {name!r} is serving here")
        spec, settings = self._prepare(name, path, version, slot.spec.kind, overrides, True)
        async with slot.lock:
            return await self._build(slot, spec, settings)

    async def replace(self, name: str, new: Deployment) -> None:
        """Serve `new` (built by `build_beside`) in place of the current version."""
        slot = self.slots[name]
        async with slot.lock:
            old = self._swap(slot, new, time.perf_counter())
        await self._retire(old)

    def _swap(self, slot: Slot, new: Deployment, started: float) -> Deployment | None:
        """Serve `new` in one assignment; the version it replaced, still to be drained."""
        old, slot.current, slot.spec, slot.error = slot.current, new, new.spec, None
        if old is not None:
            new.canary, new.canary_percent = old.canary, old.canary_percent
            old.canary = None
        for listener in self.listeners:
            listener.loaded(new, old, time.perf_counter() - started)
        return old

    async def _retire(self, old: Deployment | None) -> None:
        """Let `old` finish what it accepted, then free it (outside the slot's lock: a load
        that follows does not wait for the drain)."""
        if old is not None:
            await old.close(self.settings.drain_grace_s)

    async def unload(self, name: str) -> None:
        if name == self.default_name:
            raise ModelInUse(f"{name!r} is the default model (/predict); it cannot be unloaded")
        slot = self.slots.get(name)
        if slot is None:
            raise ModelNotFound(f"no model named {name!r}")
        async with slot.lock:
            old, slot.current = slot.current, None
            del self.slots[name]
            self.configured.discard(name)
            if old is not None:
                await old.close(self.settings.drain_grace_s)
            for listener in self.listeners:
                listener.unloaded(name)  # after the drain: nothing re-creates a series

    def index(self) -> list[dict[str, Any]]:
        out = []
        for slot in self.slots.values():
            current = slot.current
            entry: dict[str, Any] = {
                "name": slot.name,
                "version": current.version if current else slot.spec.version,
                "state": "READY" if current else "UNAVAILABLE",
            }
            if slot.error:
                entry["reason"] = slot.error
            out.append(entry)
        return out

    async def close(self, grace_s: float) -> None:
        for slot in list(self.slots.values()):
            if slot.current is not None:
                await slot.current.close(grace_s)
                slot.current = None
