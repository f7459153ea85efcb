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
- Records are fenced by their generation: a replica never applies a record older than one it
  has applied (a replayed record is ignored and counted, `mlapi_redis_records_stale_total`), and
  writes back the newer one it holds. When Redis comes back empty (a total loss), every replica
  writes back the record it serves, with its generation; the store keeps the highest
  (a compare-and-set), so a pod started afterwards joins that version. Until one is written
  back, a replica that serves another version than its configured one counts as skew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from mlapi.errors import (
    DesiredStateUnavailable,
    InvalidRequest,
    MLAPIError,
    ModelInUse,
    ModelNotFound,
    WriteConflict,
)
from mlapi.fleet.admission import check_path
from mlapi.fleet.desired import Canary, Desired, DesiredStore
from mlapi.observability import metrics
from mlapi.serving.deployment import Deployment
from mlapi.serving.registry import Registry
from mlapi.serving.status import CanaryVersion, DesiredStatus, FleetStatus, ServingStatus
from mlapi.serving.version import LoadRequest, ModelVersion

logger = logging.getLogger("mlapi.fleet")
MAX_BACKOFF_S = 60.0


@dataclass
class Attempt:
    """A desired version this replica could not load yet."""

    want: str
    error: str
    delay_s: float
    next_at: float


def recorded(deployment: Deployment) -> ModelVersion:
    """The version `deployment` serves as the desired state records it: its folder with links
    resolved, as a load under the model roots resolves it."""
    version = deployment.version
    return version.model_copy(update={"path": version.path.resolve()})


def _key(version: ModelVersion | None) -> tuple[str, Path] | None:
    """What tells two versions of a name apart here: the version and its folder."""
    return None if version is None else (version.version, version.path.resolve())


class Fleet:
    def __init__(self, registry: Registry, store: DesiredStore, poll_s: float) -> None:
        self.registry = registry
        self.store = store
        self.poll_s = poll_s
        self.desired: dict[str, Desired] = {}
        self.attempts: dict[str, Attempt] = {}
        self.store_error: str | None = None
        # What a pod started now serves without a desired record: the configured versions.
        self.configured = {name: _key(registry.version(name)) for name in registry.names()}
        self.missing: set[str] = set()  # records Redis lost that are not written back yet
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
            self.desired = await self._read()
        for name, desired in self.desired.items():
            if desired.current is None:
                continue
            try:
                await self._load(desired.current)
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
            self.desired = await self._read()
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
        if desired.current is None:
            if registry.version(name) is not None and name != registry.default_name:
                await registry.unload(name)
            return
        serving = registry.serving(name)
        if serving is None or _key(serving.version) != _key(desired.current):
            if not self._due(name, desired.current):
                return
            try:
                await self._load(desired.current)
            except MLAPIError as exc:
                self._failed(name, desired.current, exc.message)
                return
            self.attempts.pop(name, None)
            logger.info("converged", extra={"model": name, "version": desired.current.version})
        await self._converge_canary(name, desired.canary)

    async def _converge_canary(self, name: str, want: Canary | None) -> None:
        registry = self.registry
        if registry.serving(name) is None:
            return
        have = registry.canary(name)
        if want is None:
            await registry.clear_canary(name)
        elif have is not None and _key(have.deployment.version) == _key(want.spec):
            registry.set_canary_percent(name, want.percent)
        elif self._due(name, want.spec):
            try:
                await registry.start_canary(self._admitted(want.spec), want.percent)
            except MLAPIError as exc:
                self._failed(name, want.spec, exc.message)

    def _due(self, name: str, want: ModelVersion) -> bool:
        attempt = self.attempts.get(name)
        return attempt is None or attempt.want != want.version or time.time() >= attempt.next_at

    def _failed(self, name: str, want: ModelVersion, error: str) -> None:
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
        here = set(self.registry.names())
        for name in set(self.desired) | here:
            desired = self.desired.get(name)
            if name not in here and (desired is None or desired.current is None):
                continue  # unloaded everywhere and here: its series are gone (Registry.unload)
            metrics.VERSION_SKEW.labels(model=name).set(1 if self.skewed(name) else 0)
            metrics.DESIRED_MISSING.labels(model=name).set(1 if name in self.missing else 0)

    # --- what a replica says ---------------------------------------------------------------

    def skewed(self, name: str) -> bool:
        desired = self.desired.get(name)
        serving = self.registry.serving(name)
        if name in self.missing:  # a pod started now would serve the configured version
            return _key(serving.version if serving else None) != self.configured.get(name)
        if desired is None:
            return False
        if desired.current is None:
            return serving is not None and name != self.registry.default_name
        if serving is None or _key(serving.version) != _key(desired.current):
            return True
        have = self.registry.canary(name)
        want = desired.canary
        return _key(have.deployment.version if have else None) != _key(want.spec if want else None)

    def status(self, name: str) -> FleetStatus:
        desired = self.desired.get(name)
        want = desired.current if desired else None
        serving = self.registry.serving(name)
        canary = self.registry.canary(name)
        attempt = self.attempts.get(name)
        return FleetStatus(
            desired=None
            if desired is None
            else DesiredStatus(
                version=want.version if want else None,
                path=str(want.path) if want else None,
                canary=None
                if desired.canary is None
                else CanaryVersion(
                    version=desired.canary.spec.version, percent=desired.canary.percent
                ),
                history=[v.version for v in desired.history],
                generation=desired.generation,
            ),
            serving=None
            if serving is None
            else ServingStatus(
                version=serving.version.version,
                canary=None
                if canary is None
                else CanaryVersion(
                    version=canary.deployment.version.version, percent=canary.percent
                ),
            ),
            skew=self.skewed(name),
            error=attempt.error if attempt else None,
            shared=self.shared,
        )

    # --- admin operations ------------------------------------------------------------------

    async def load(self, name: str, request: LoadRequest) -> Deployment:
        """Serve what `request` asks for under `name`, here and then on every replica."""
        async with self._lock:
            before = await self._record(name)
            deployment = await self.registry.load(self.registry.resolve(name, request))
            await self._put(before.replaced_by(recorded(deployment)))
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
            deployment = await self._load(previous)
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

    async def start_canary(self, name: str, request: LoadRequest, percent: float) -> Deployment:
        """Serve what `request` asks for to `percent` percent of the texts, on every replica;
        the canary has the settings the request gives, not the serving version's."""
        if not 0 <= percent <= 100:
            raise InvalidRequest(f"percent must be within 0-100, not {percent}")
        async with self._lock:
            current = self.registry.get(name)  # 404 when the name is not loaded
            before = await self._record(name)
            version = self.registry.resolve(name, request, exact=True)
            if version.version == current.version.version:
                raise InvalidRequest(f"the canary needs a version other than {version.version!r}")
            built = await self.registry.start_canary(version, percent)
            canary = Canary(spec=recorded(built), percent=percent)
            await self._put(before.changed(canary=canary))
        return built

    async def promote(self, name: str) -> Deployment:
        async with self._lock:
            before = await self._canary_record(name, "promote")
            promoted = await self.registry.promote_canary(name)
            after = before.replaced_by(recorded(promoted))
            await self._put(after.model_copy(update={"canary": None}))
        return promoted

    async def abort(self, name: str) -> None:
        async with self._lock:
            before = await self._canary_record(name, "abort")
            await self.registry.clear_canary(name)
            await self._put(before.changed(canary=None))

    async def _canary_record(self, name: str, verb: str) -> Desired:
        """The desired state of `name` before its canary is promoted or stopped; a 404 when
        it has none."""
        self.registry.get(name)  # 404 when the name is not loaded
        if self.registry.canary(name) is None:
            raise ModelNotFound(f"{name!r} has no canary to {verb}")
        return await self._record(name)

    # --- helpers ---------------------------------------------------------------------------

    def _admitted(self, version: ModelVersion) -> ModelVersion:
        """A version the desired state names, its folder checked under this replica's roots."""
        return version.model_copy(update={"path": check_path(version.path, self.registry.roots)})

    async def _load(self, version: ModelVersion) -> Deployment:
        return await self.registry.load(self._admitted(version))

    async def _record(self, name: str) -> Desired:
        """The record of `name`, or one made from what this replica serves. Read before an
        admin operation changes anything: with the store unreadable, nothing changes."""
        try:
            self.desired = await self._read()
        except Exception as exc:
            raise DesiredStateUnavailable(
                f"the desired state is unreadable ({type(exc).__name__}: {exc}); nothing changed"
            ) from None
        desired = self.desired.get(name)
        if desired is not None:
            return desired
        serving = self.registry.serving(name)
        return Desired(name=name, current=recorded(serving) if serving else None)

    async def _read(self) -> dict[str, Desired]:
        """The stored records, where none is older than the one this replica applied: a
        replayed record is ignored (counted), and the newer one is written back, as is one that
        Redis lost."""
        stored = await self.store.all()
        found = dict(stored)
        behind: list[Desired] = []
        for name, known in self.desired.items():
            record = stored.get(name)
            if record is not None and record.generation >= known.generation:
                continue
            if record is not None:
                metrics.REDIS_STALE.labels(what="desired state").inc()
                logger.warning(
                    "ignored desired state of %s at generation %d: generation %d applied here",
                    name,
                    record.generation,
                    known.generation,
                )
            found[name] = known
            behind.append(known)
        for known in behind:
            await self._publish(known)
        return found

    async def _publish(self, known: Desired) -> None:
        """Writes back a record Redis lost or holds an older generation of; the store keeps it
        only over a lower generation, so the highest among the replicas wins."""
        name = known.name
        try:
            await self.store.put(known)
        except WriteConflict:  # a newer one is there now: the next pass reads it
            self.missing.discard(name)
            return
        except Exception as exc:
            if name not in self.missing:
                logger.warning("could not write back the desired state of %s: %s", name, exc)
            self.missing.add(name)
            return
        self.missing.discard(name)
        metrics.DESIRED_REPUBLISHED.labels(model=name).inc()
        logger.info(
            "desired state written back",
            extra={"model": name, "generation": known.generation},
        )

    async def _put(self, desired: Desired) -> None:
        try:
            await self.store.put(desired)
        except WriteConflict:
            raise
        except Exception as exc:  # this replica changed; the fleet will converge back
            raise DesiredStateUnavailable(
                f"the desired state of {desired.name!r} could not be saved ({exc}); the other "
                "replicas keep their version and this one returns to it"
            ) from None
        self.desired[desired.name] = desired
        self._report()
