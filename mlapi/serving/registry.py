"""Named models, each serving one version, and the canary beside it; a new version is built
beside the old one.

The registry owns the slots: per name the version that serves, its canary
(`mlapi.serving.canary`) and why the last load failed. A load is one `ModelVersion`; a request
names only what it wants (`LoadRequest`), and `resolve` fills the rest. A swap loads and warms
the new version (`mlapi.serving.deployment`) while the old one keeps serving, replaces the
slot's reference in one assignment, then lets the old version finish what it accepted and
frees it, after the slot's lock is released. One load per name at a time. Listeners
(`mlapi.serving.events`: metrics, logs) hear of every load, failure and unload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from mlapi.errors import InvalidRequest, ModelInUse, ModelLoadFailed, ModelNotFound, NotReady
from mlapi.fleet.admission import check_path, model_roots
from mlapi.kinds import ModelKind
from mlapi.serving.canary import CanarySplit
from mlapi.serving.deployment import Deployment, build
from mlapi.serving.events import LISTENERS, Listener
from mlapi.serving.status import ModelIndexEntry
from mlapi.serving.version import (
    DEFAULT_KIND,
    LoadRequest,
    ModelVersion,
    check_name,
    next_version,
)
from mlapi.settings import Settings
from mlapi.settings.per_model import InvalidModelSettings, check
from mlapi.validation import first_problem

logger = logging.getLogger("mlapi.registry")


@dataclass
class Slot:
    """One name: the version it serves (the configured one until it is loaded), its canary,
    and why the last load failed."""

    version: ModelVersion
    current: Deployment | None = None
    canary: CanarySplit | None = None
    error: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Registry:
    def __init__(
        self,
        settings: Settings,
        versions: list[ModelVersion],
        kinds: dict[str, ModelKind],
        default: str,
        listeners: tuple[Listener, ...] = LISTENERS,
    ) -> None:
        self.settings = settings
        self.listeners = listeners
        self.kinds = kinds
        self.default_name = default
        self._slots = {version.name: Slot(version) for version in versions}
        self._configured = set(self._slots)
        self.roots = model_roots(settings, (version.path for version in versions))

    async def start(self) -> None:
        """Loads every configured model; a model that fails stops the start."""
        for slot in list(self._slots.values()):
            if slot.current is None:  # not loaded already from a desired state
                await self.load(slot.version)

    # --- what serves ------------------------------------------------------------------------

    def ready(self) -> bool:
        return all(self._slots[n].current is not None for n in self._configured)

    def names(self) -> list[str]:
        """Every name here, loaded or not (a configured model before it loads, a failed load)."""
        return list(self._slots)

    def version(self, name: str) -> ModelVersion | None:
        """The version `name` serves, or is configured to serve until it loads."""
        slot = self._slots.get(name)
        return slot.version if slot is not None else None

    def serving(self, name: str) -> Deployment | None:
        """The deployment answering for `name`, None when none is loaded."""
        slot = self._slots.get(name)
        return slot.current if slot is not None else None

    def canary(self, name: str) -> CanarySplit | None:
        slot = self._slots.get(name)
        return slot.canary if slot is not None else None

    def canary_for(self, deployment: Deployment) -> CanarySplit | None:
        """The canary that answers a share of the keys `deployment` is asked for, if it serves."""
        slot = self._slots.get(deployment.version.name)
        if slot is None or slot.current is not deployment:
            return None
        return slot.canary

    def get(self, name: str, version: str | None = None) -> Deployment:
        slot = self._slots.get(name)
        if slot is None:
            raise ModelNotFound(f"no model named {name!r}; GET /models lists them")
        deployment = slot.current
        if deployment is None:
            raise NotReady(f"model {name!r} is not loaded", headers={"Retry-After": "1"})
        serving = deployment.version.version
        if version is not None and version != serving:
            raise ModelNotFound(f"model {name!r} serves version {serving}, not {version!r}")
        return deployment

    @property
    def default(self) -> Deployment:
        return self.get(self.default_name)

    # --- loads ------------------------------------------------------------------------------

    def resolve(self, name: str, request: LoadRequest, *, exact: bool = False) -> ModelVersion:
        """The version a load of `name` asks for, its blanks filled: from the version serving
        (its folder, kind and settings, the request's laid over them or alone when `exact`;
        the next version), or for a new name the repository's folder, `text-classifier` and
        version 1. A folder the request names must lie under the model roots."""
        check_name(name)
        path = check_path(Path(request.path), self.roots) if request.path else None
        slot = self._slots.get(name)
        if slot is None:
            root = self.settings.model_repository
            if path is None and root is not None:
                path = root / name
            if path is None:
                raise ModelNotFound(f"no model named {name!r} and no path to load it from")
            base = ModelVersion(name=name, path=path, kind=request.kind or DEFAULT_KIND)
            version = request.version or base.version
        else:
            base = slot.version
            serving = slot.current
            version = request.version or (
                next_version(serving.version.version) if serving else base.version
            )
        given = request.settings or {}
        try:
            settings = check(given if exact else {**base.settings, **given})
        except InvalidModelSettings as exc:
            raise ModelLoadFailed(f"invalid settings for {name!r}: {exc}") from None
        fields = {
            "name": name,
            "path": path or base.path,
            "kind": request.kind or base.kind,
            "version": version,
            "settings": settings,
        }
        try:
            return ModelVersion.model_validate(fields)
        except ValidationError as exc:  # the next version of a long one: too long
            raise InvalidRequest(first_problem(exc.errors())) from None

    def _settings(self, version: ModelVersion) -> Settings:
        """The settings `version` runs with, of a kind known here."""
        if version.kind not in self.kinds:
            raise ModelLoadFailed(f"unknown kind {version.kind!r}; known: {sorted(self.kinds)}")
        try:
            settings = version.effective_settings(self.settings)
        except InvalidModelSettings as exc:
            raise ModelLoadFailed(f"invalid settings for {version.name!r}: {exc}") from None
        # The load reads every file under these roots (mlapi.fleet.admission.check_folder).
        return settings.model_copy(update={"model_roots": ",".join(map(str, self.roots))})

    async def _build(self, slot: Slot, version: ModelVersion, settings: Settings) -> Deployment:
        try:
            new = await build(version, self.kinds[version.kind], settings)
        except Exception as exc:  # a broken folder: the old version keeps serving
            slot.error = f"{type(exc).__name__}: {exc}"
            for listener in self.listeners:
                listener.failed(version, slot.error)
            current = slot.current
            serving = f"; version {current.version.version} keeps serving" if current else ""
            raise ModelLoadFailed(
                f"could not load {version.name!r} from {version.path}: {slot.error}{serving}"
            ) from exc
        new.batcher.start()
        return new

    async def load(self, version: ModelVersion) -> Deployment:
        """Serve `version` under its name; the version serving until then answers meanwhile."""
        settings = self._settings(version)
        slot = self._slots.setdefault(version.name, Slot(version))
        async with slot.lock:
            started = time.perf_counter()
            new = await self._build(slot, version, settings)
            old = self._swap(slot, new, started)
        await self._retire(old)
        return new

    def _swap(self, slot: Slot, new: Deployment, started: float) -> Deployment | None:
        """Serve `new` in one assignment; the version it replaced, still to be drained. The
        canary, if any, stays beside the new version."""
        old, slot.current, slot.version, slot.error = slot.current, new, new.version, None
        for listener in self.listeners:
            try:  # a listener's fault does not undo the swap, nor keep the old version
                listener.loaded(new, old, time.perf_counter() - started)
            except Exception:
                logger.exception("a listener failed on the load of %s", new.version.name)
        return old

    async def _retire(self, old: Deployment | None) -> None:
        """Let `old` finish what it accepted, then free it (outside the slot's lock: a load
        that follows does not wait for the drain)."""
        if old is not None:
            await old.close(self.settings.drain_grace_s)

    async def unload(self, name: str) -> None:
        if name == self.default_name:
            raise ModelInUse(f"{name!r} is the default model (/predict); it cannot be unloaded")
        slot = self._slots.get(name)
        if slot is None:
            raise ModelNotFound(f"no model named {name!r}")
        async with slot.lock:
            old, canary, slot.current, slot.canary = slot.current, slot.canary, None, None
            del self._slots[name]
            self._configured.discard(name)
            if canary is not None:
                await self._retire(canary.deployment)
            await self._retire(old)
            for listener in self.listeners:
                listener.unloaded(name)  # after the drain: nothing re-creates a series

    # --- canaries ---------------------------------------------------------------------------

    def _serving_slot(self, name: str) -> Slot:
        slot = self._slots.get(name)
        if slot is None or slot.current is None:
            raise ModelNotFound(f"no model named {name!r} is serving here")
        return slot

    async def start_canary(self, version: ModelVersion, percent: float) -> Deployment:
        """Build and warm `version` beside the serving one, then let it answer `percent` percent
        of the keys; a canary it replaces is drained."""
        slot = self._serving_slot(version.name)
        if version.kind != slot.version.kind:  # one servable parses and decodes for both
            raise InvalidRequest(
                f"the canary of {version.name!r} must be a {slot.version.kind} model, "
                f"not {version.kind}"
            )
        settings = self._settings(version)
        async with slot.lock:
            built = await self._build(slot, version, settings)
            old, slot.canary = slot.canary, CanarySplit(built, percent)
        if old is not None:
            await self._retire(old.deployment)
        return built

    def set_canary_percent(self, name: str, percent: float) -> None:
        """The running canary of `name` answers `percent` percent of the keys from now on."""
        slot = self._serving_slot(name)
        if slot.canary is not None and slot.canary.percent != percent:
            slot.canary = dataclasses.replace(slot.canary, percent=percent)

    async def clear_canary(self, name: str) -> None:
        """Stop the canary of `name` (if any) and drain it: the serving version answers all."""
        slot = self._slots.get(name)
        old = slot.canary if slot is not None else None
        if slot is None or old is None:
            return
        slot.canary = None
        await self._retire(old.deployment)

    async def promote_canary(self, name: str) -> Deployment:
        """Serve the canary of `name` to every key in place of the serving version."""
        slot = self._serving_slot(name)
        async with slot.lock:
            canary = slot.canary
            if canary is None:
                raise ModelNotFound(f"{name!r} has no canary to promote")
            slot.canary = None
            old = self._swap(slot, canary.deployment, time.perf_counter())
        await self._retire(old)
        return canary.deployment

    def index(self) -> list[ModelIndexEntry]:
        return [
            ModelIndexEntry(
                name=slot.version.name,
                version=slot.version.version,
                state="READY" if slot.current else "UNAVAILABLE",
                reason=slot.error or None,
            )
            for slot in self._slots.values()
        ]

    async def close(self, grace_s: float) -> None:
        for slot in list(self._slots.values()):
            if slot.canary is not None:
                await slot.canary.deployment.close(grace_s)
                slot.canary = None
            if slot.current is not None:
                await slot.current.close(grace_s)
                slot.current = None
