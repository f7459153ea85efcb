"""One model version across the fleet: admin operations write the desired state, and every
replica converges to it.

- `load`, `unload`, `rollback`, `start_canary`, `promote` and `abort` act on this replica's
  registry first (a typed 4xx changes nothing), then write the desired state
  (`mlapi.fleet.desired`).
- `converge` runs on every replica every `MLAPI_DESIRED_POLL_S`: it loads what the desired
  state names and this replica does not serve. A version that fails to load leaves the old one
  serving, says why (`/models`, `/stats`, a WARNING), counts as skew
  (`mlapi_model_version_skew`) and is tried again with a growing pause.
- A Redis outage leaves every replica serving what it serves; convergence resumes after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlapi.errors import (
    DesiredStateUnavailable,
    InvalidRequest,
    MLAPIError,
    ModelInUse,
    ModelNotFound,
)
from mlapi.fleet.desired import Canary, Desired, DesiredStore, VersionSpec
from mlapi.observability import metrics
from mlapi.serving.deployment import Deployment
from mlapi.serving.registry import Registry, Slot, next_version

logger = logging.getLogger("mlapi.fleet")
MAX_BACKOFF_S = 60.0


@dataclass
class Attempt:
    """A desired version this replica could not load yet."""

    want: str
    error: str
    delay_s: float
    next_at: float


def spec_of(deployment: Deployment) -> VersionSpec:
    spec = deployment.spec
    path = str(spec.path.resolve())  # as a load under the model roots resolves it
    return VersionSpec(
        version=spec.version, path=path, kind=spec.kind, settings=dict(spec.overrides)
    )


def _key(spec: VersionSpec | None) -> tuple[str, str] | None:
    return None if spec is None else (spec.version, spec.path)


class Fleet:
    def __init__(self, registry: Registry, store: DesiredStore, poll_s: float) -> None:
        self.registry = registry
        self.store = store
        self.poll_s = poll_s
        self.desired: dict[str, Desired] = {}
        self.attempts: dict[str, Attempt] = {}
        self.store_error: str | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    @property
    def shared(self) -> bool:
        return self.store.shared

    # --- start and the loop ----------------------------------------------------------------

    async def start(self) -> None:
        """Serve the desired versions where there are some, the configured ones elsewhere."""
        with contextlib.suppress(Exception):  # no Redis at start: the configuration alone
            self.desired = await self.store.all()
        for name, desired in self.desired.items():
            if desired.current is None:
                continue
            try:
                await self._load(name, desired.current)
            except MLAPIError as exc:  # the configured version serves; the loop tries again
                self._failed(name, desired.current, exc.message)
        await self.registry.start()
        await self._apply()  # canaries and skew, from the state read above
        self._task = asyncio.create_task(self._run(), name="mlapi-fleet")

    async def close(self) -> None:
        self._closing.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for slot in self.registry.slots.values():
            if slot.current is not None and slot.current.canary is not None:
                await slot.current.canary.close(0)
        await self.store.close()

    async def _run(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.poll_s)
            if self._closing.is_set():
                return
            try:
                await self.converge()
            except Exception:  # never stop converging: the next pass tries again
                logger.warning("desired-state pass failed", exc_info=True)

    async def converge(self) -> None:
        """One pass: read the desired state, load what differs, report skew."""
        try:
            self.desired = await self.store.all()
            if self.store_error is not None:
                logger.info("desired state readable again")
            self.store_error = None
        except Exception as exc:  # Redis down: serve on, with the last state read
            if self.store_error is None:
                logger.warning("desired state unreadable (%s); serving on", exc)
            self.store_error = f"{type(exc).__name__}: {exc}"
            return
        await self._apply()

    async def _apply(self) -> None:
        async with self._lock:
            for name, desired in self.desired.items():
                await self._converge_one(name, desired)
        self._report()

    async def _converge_one(self, name: str, desired: Desired) -> None:
        registry = self.registry
        slot = registry.slots.get(name)
        if desired.current is None:
            if slot is not None and name != registry.default_name:
                await registry.unload(name)
            return
        serving = slot.current if slot is not None else None
        if serving is None or _key(spec_of(serving)) != _key(desired.current):
            if not self._due(name, desired.current):
                return
            try:
                await self._load(name, desired.current)
            except MLAPIError as exc:
                self._failed(name, desired.current, exc.message)
                return
            self.attempts.pop(name, None)
            logger.info("converged", extra={"model": name, "version": desired.current.version})
        slot = registry.slots[name]
        await self._converge_canary(slot, desired.canary)

    async def _converge_canary(self, slot: Slot, canary: Canary | None) -> None:
        current = slot.current
        if current is None:
            return
        have = current.canary
        if canary is None:
            if have is not None:
                current.canary = None
                await have.close(self.registry.settings.drain_grace_s)
            return
        if have is None or _key(spec_of(have)) != _key(canary.spec):
            if not self._due(slot.name, canary.spec):
                return
            try:
                built = await self._build_canary(slot.name, canary.spec)
            except MLAPIError as exc:
                self._failed(slot.name, canary.spec, exc.message)
                return
            current.canary, old = built, have
            if old is not None:
                await old.close(self.registry.settings.drain_grace_s)
        current.canary_percent = canary.percent

    def _due(self, name: str, want: VersionSpec) -> bool:
        attempt = self.attempts.get(name)
        return attempt is None or attempt.want != want.version or time.time() >= attempt.next_at

    def _failed(self, name: str, want: VersionSpec, error: str) -> None:
        previous = self.attempts.get(name)
        delay = 1.0
        if previous is not None and previous.want == want.version:
            delay = min(MAX_BACKOFF_S, previous.delay_s * 2)
        if previous is None or previous.error != error:
            logger.warning(
                "cannot serve the desired version %s of %s: %s", want.version, name, error
            )
        self.attempts[name] = Attempt(want.version, error, delay, time.time() + delay)

    def _report(self) -> None:
        for name in set(self.desired) | set(self.registry.slots):
            desired = self.desired.get(name)
            if name not in self.registry.slots and (desired is None or desired.current is None):
                continue  # unloaded everywhere and here: its series are gone (Registry.unload)
            metrics.VERSION_SKEW.labels(model=name).set(1 if self.skewed(name) else 0)

    # --- what a replica says ---------------------------------------------------------------

    def skewed(self, name: str) -> bool:
        desired = self.desired.get(name)
        if desired is None:
            return False
        slot = self.registry.slots.get(name)
        serving = slot.current if slot is not None else None
        if desired.current is None:
            return serving is not None and name != self.registry.default_name
        if serving is None or _key(spec_of(serving)) != _key(desired.current):
            return True
        have = serving.canary
        want = desired.canary
        return _key(spec_of(have) if have else None) != _key(want.spec if want else None)

    def status(self, name: str) -> dict[str, Any]:
        desired = self.desired.get(name)
        slot = self.registry.slots.get(name)
        serving = slot.current if slot is not None else None
        attempt = self.attempts.get(name)
        return {
            "desired": None
            if desired is None
            else {
                "version": desired.current.version if desired.current else None,
                "path": desired.current.path if desired.current else None,
                "canary": None
                if desired.canary is None
                else {"version": desired.canary.spec.version, "percent": desired.canary.percent},
                "history": [v.version for v in desired.history],
                "generation": desired.generation,
            },
            "serving": None
            if serving is None
            else {
                "version": serving.version,
                "canary": None
                if serving.canary is None
                else {"version": serving.canary.version, "percent": serving.canary_percent},
            },
            "skew": self.skewed(name),
            "error": attempt.error if attempt else None,
            "shared": self.shared,
        }

    # --- admin operations ------------------------------------------------------------------

    async def load(
        self,
        name: str,
        path: Path | None = None,
        *,
        version: str | None = None,
        kind: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Deployment:
        async with self._lock:
            before = await self._record(name)
            deployment = await self.registry.load(
                name, path, version=version, kind=kind, overrides=overrides
            )
            await self._put(before.replaced_by(spec_of(deployment)))
        return deployment

    async def unload(self, name: str) -> None:
        async with self._lock:
            before = await self._record(name)
            await self.registry.unload(name)
            await self._put(before.replaced_by(None).model_copy(update={"canary": None}))

    async def rollback(self, name: str, version: str | None = None) -> Deployment:
        """Serve an earlier version (by default the one before the current), everywhere."""
        async with self._lock:
            self.registry.get(name)  # 404 when the name is not loaded here
            desired = await self._record(name)
            if not desired.history:
                raise ModelInUse(f"{name!r} has no earlier version to roll back to")
            known = [v.version for v in desired.history]
            if version is not None and version not in known:
                raise ModelNotFound(f"{name!r} has no earlier version {version!r}; kept: {known}")
            index = known.index(version) if version is not None else 0
            previous = desired.history[index]
            rest = desired.history[:index] + desired.history[index + 1 :]
            deployment = await self._load(name, previous)
            current = desired.current
            await self._put(
                desired.model_copy(
                    update={
                        "current": previous,
                        "history": [current, *rest] if current else rest,
                        "generation": desired.generation + 1,
                        "updated_at": time.time(),
                    }
                )
            )
        return deployment

    async def start_canary(
        self,
        name: str,
        path: Path,
        *,
        percent: float,
        version: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Deployment:
        if not 0 <= percent <= 100:
            raise InvalidRequest(f"percent must be within 0-100, not {percent}")
        async with self._lock:
            current = self.registry.get(name)  # 404 when the name is not loaded
            before = await self._record(name)
            version = version or next_version(current.version)
            if version == current.version:
                raise InvalidRequest(f"the canary needs a version other than {version!r}")
            spec = VersionSpec(
                version=version, path=str(path), kind=current.spec.kind, settings=overrides or {}
            )
            built = await self._build_canary(name, spec)
            old, current.canary = current.canary, built
            current.canary_percent = percent
            if old is not None:
                await old.close(self.registry.settings.drain_grace_s)
            canary = Canary(spec=spec_of(built), percent=percent)
            await self._put(before.model_copy(update={"canary": canary}))
        return built

    async def promote(self, name: str) -> Deployment:
        async with self._lock:
            canary, before = await self._take_canary(name, "promote")
            await self.registry.replace(name, canary)
            await self._put(before.replaced_by(spec_of(canary)).model_copy(update={"canary": None}))
        return canary

    async def abort(self, name: str) -> None:
        async with self._lock:
            canary, before = await self._take_canary(name, "abort")
            await canary.close(self.registry.settings.drain_grace_s)
            await self._put(before.model_copy(update={"canary": None}))

    async def _take_canary(self, name: str, verb: str) -> tuple[Deployment, Desired]:
        """The canary of `name`, no longer answering, and the desired state before that."""
        current = self.registry.get(name)
        canary = current.canary
        if canary is None:
            raise ModelNotFound(f"{name!r} has no canary to {verb}")
        before = await self._record(name)
        current.canary = None
        return canary, before

    # --- helpers ---------------------------------------------------------------------------

    async def _load(self, name: str, spec: VersionSpec) -> Deployment:
        return await self.registry.load(
            name,
            Path(spec.path),
            version=spec.version,
            kind=spec.kind,
            overrides=spec.settings,
            exact=True,
        )

    async def _build_canary(self, name: str, spec: VersionSpec) -> Deployment:
        return await self.registry.build_beside(
            name, Path(spec.path), version=spec.version, overrides=spec.settings
        )

    async def _record(self, name: str) -> Desired:
        """The record of `name`, or one made from what this replica serves. Read before an
        admin operation changes anything: with the store unreadable, nothing changes."""
        try:
            self.desired = await self.store.all()
        except Exception as exc:
            raise DesiredStateUnavailable(
                f"the desired state is unreadable ({type(exc).__name__}: {exc}); nothing changed"
            ) from None
        desired = self.desired.get(name)
        if desired is not None:
            return desired
        slot = self.registry.slots.get(name)
        serving = slot.current if slot is not None else None
        return Desired(name=name, current=spec_of(serving) if serving else None)

    async def _put(self, desired: Desired) -> None:
        try:
            await self.store.put(desired)
        except Exception as exc:  # this replica changed; the fleet will converge back
            raise DesiredStateUnavailable(
                f"the desired state of {desired.name!r} could not be saved ({exc}); the other "
                "replicas keep their version and this one returns to it"
            ) from None
        self.desired[desired.name] = desired
        self._report()
