"""Named models, each serving one version; a new version is built beside the old one.

A swap loads and warms the new version in a worker thread while the old one keeps serving,
replaces the slot's reference in one assignment, then lets the old version finish what it
accepted and frees it. One load per name at a time: at most two versions of a model exist.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlapi import metrics
from mlapi.admission import check_name, check_path, check_version, model_roots
from mlapi.cache import RedisCache, build_cache
from mlapi.errors import ModelInUse, ModelLoadFailed, ModelNotFound, NotReady
from mlapi.kinds import ModelKind, ModelSpec, Servable
from mlapi.kinds.base import MODEL_SETTINGS
from mlapi.predictor import Predictor
from mlapi.settings import Settings
from mlapi.stats import ModelStats
from mlapi.workers.local import InProcess
from mlapi.workers.pool import WorkerPool
from mlapi.workers.runner import Runner

logger = logging.getLogger("mlapi.registry")


async def build(spec: ModelSpec, kind: ModelKind, settings: Settings) -> Deployment:
    """Load and warm one version: in worker processes (`workers` > 0) or in this process."""
    if settings.workers == 0:
        servable = await asyncio.to_thread(kind.load, spec, settings)
        return Deployment(spec, kind, servable, settings, InProcess(servable))
    pool = WorkerPool(spec, kind, settings)
    servable = await pool.start()
    return Deployment(spec, kind, servable, settings, pool)


class Deployment:
    """One loaded version: its servable, runner, cache namespace, batcher and figures.

    With worker processes, `servable` is the copy without runtime that parsing and formatting
    use; the model itself runs in the runner's workers."""

    def __init__(
        self,
        spec: ModelSpec,
        kind: ModelKind,
        servable: Servable,
        settings: Settings,
        runner: Runner,
    ):
        self.spec = spec
        self.kind = kind
        self.servable = servable
        self.settings = settings
        self.runner = runner
        self.stats = ModelStats()
        caching = settings.cache_results
        if caching is None:
            caching = kind.caches_by_default
        tiers = (
            settings
            if caching
            else settings.model_copy(update={"cache_size": 0, "redis_url": None})
        )
        self.cache = build_cache(tiers, servable.fingerprint, spec.name, servable.valid)
        self.predictor = Predictor(
            runner,
            self.cache,
            settings,
            model=spec.name,
            max_queue=max(settings.max_queue, kind.max_items(settings)),  # a request fits
            on_batch=self.stats.batch,
        )
        self.loaded_at = time.time()
        self.inflight = 0
        # A canary version answering a stable share of distinct texts (set by `mlapi.fleet`).
        self.canary: Deployment | None = None
        self.canary_percent = 0.0

    @property
    def version(self) -> str:
        return self.spec.version

    def use(self) -> Deployment:
        """`with deployment.use():` is held by every request: a version is drained only once
        nobody holds it. A plain context manager: no generator or coroutine per request."""
        return self

    def __enter__(self) -> Deployment:
        self.inflight += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.inflight -= 1

    def routes_to_canary(self, key: str) -> bool:
        """A stable hash of the text: the same text always goes to the same version."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000 < self.canary_percent * 100

    def versions_for(self, keys: list[str]) -> str:
        """The version(s) that answer `keys`: `X-MLAPI-Model-Version`."""
        canary = self.canary
        if canary is None:
            return self.version
        found = {canary.version if self.routes_to_canary(k) else self.version for k in keys}
        return ",".join(sorted(found)) or self.version

    async def predict(self, keys: list[str]) -> tuple[list[bytes], str]:
        canary = self.canary
        if canary is None:
            return await self._predict(keys)
        to_canary = [self.routes_to_canary(k) for k in keys]
        ours = [k for k, c in zip(keys, to_canary, strict=True) if not c]
        theirs = [k for k, c in zip(keys, to_canary, strict=True) if c]
        with canary.use():
            (mine, outcome_a), (other, outcome_b) = await asyncio.gather(
                self._predict(ours), canary._predict(theirs)
            )
        mine_it, other_it = iter(mine), iter(other)
        rows = [next(other_it) if c else next(mine_it) for c in to_canary]
        outcomes = {o for o, part in ((outcome_a, ours), (outcome_b, theirs)) if part}
        outcome = outcomes.pop() if len(outcomes) == 1 else "Partial"
        return rows, outcome

    async def _predict(self, keys: list[str]) -> tuple[list[bytes], str]:
        if not keys:
            return [], "Hit"
        started = time.perf_counter()
        ok = False
        try:
            rows, outcome = await self.predictor.predict(keys)
            ok = True
            return rows, outcome
        finally:
            self.stats.request(len(keys), time.perf_counter() - started, ok)

    async def close(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await self.predictor.batcher.close(max(0.0, deadline - time.monotonic()))
        await self.cache.close()
        await self.runner.close()

    def card(self) -> dict[str, Any]:
        return {
            **self.servable.card(),
            "model": self.spec.name,
            "kind": self.kind.name,
            "version": self.version,
            "path": str(self.spec.path),
            "loaded_at": self.loaded_at,
        }

    def stats_dict(self) -> dict[str, Any]:
        redis = next((t for t in self.cache.tiers if isinstance(t, RedisCache)), None)
        cache = {
            tier: {
                "hits": self.cache.hits[tier],
                "misses": self.cache.misses[tier],
                "hit_ratio": _ratio(self.cache.hits[tier], self.cache.misses[tier]),
            }
            for tier in self.cache.hits
        }
        return {
            "version": self.version,
            "fingerprint": self.servable.fingerprint,
            "kind": self.kind.name,
            "loaded_at": self.loaded_at,
            "queue_depth": self.predictor.batcher.pending,
            "inflight": self.inflight,
            **self.stats.as_dict(),
            "cache": cache,
            "redis": None if redis is None else ("up" if redis.available else "paused"),
            "workers": self.runner.describe(),
            "canary": None
            if self.canary is None
            else {"percent": self.canary_percent, **self.canary.stats_dict()},
        }


def _ratio(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None


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
    ) -> None:
        self.settings = settings
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

    def first_of(self, kind: str) -> Deployment:
        """The first model of a kind (what `/embed` serves)."""
        for slot in self.slots.values():
            if slot.spec.kind == kind:
                return self.get(slot.name)
        raise ModelNotFound(f"no {kind} model is configured (MLAPI_MODELS)")

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
    ) -> ModelSpec:
        """The spec of a load, checked (`mlapi.admission`): name, version, settings, and a
        folder under the model roots."""
        check_name(name)
        check_version(version)
        if path is not None:
            path = check_path(path, self.roots)
        unknown = set(overrides or {}) - MODEL_SETTINGS
        if unknown:
            raise ModelLoadFailed(f"not per-model settings: {sorted(unknown)}")
        spec = self._spec_for(name, path, version, kind, overrides)
        if exact:  # the settings given, not merged into the serving version's
            spec = dataclasses.replace(spec, overrides=dict(overrides or {}))
        if spec.kind not in self.kinds:
            raise ModelLoadFailed(f"unknown kind {spec.kind!r}; known: {sorted(self.kinds)}")
        try:
            spec.settings(self.settings)
        except ValidationError as exc:
            raise ModelLoadFailed(f"invalid settings for {name!r}: {exc}") from None
        return spec

    async def _build(self, slot: Slot, spec: ModelSpec) -> Deployment:
        try:
            new = await build(spec, self.kinds[spec.kind], spec.settings(self.settings))
        except Exception as exc:  # a broken folder: the old version keeps serving
            metrics.MODEL_SWAPS.labels(model=spec.name, outcome="failed").inc()
            slot.error = f"{type(exc).__name__}: {exc}"
            logger.warning("load of %s from %s failed: %s", spec.name, spec.path, slot.error)
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
        spec = self._prepare(name, path, version, kind, overrides, exact)
        slot = self.slots.setdefault(name, Slot(name, spec))
        async with slot.lock:
            started = time.perf_counter()
            new = await self._build(slot, spec)
            await self._swap(slot, new, started)
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
        spec = self._prepare(name, path, version, slot.spec.kind, overrides, exact=True)
        async with slot.lock:
            return await self._build(slot, spec)

    async def replace(self, name: str, new: Deployment) -> None:
        """Serve `new` (built by `build_beside`) in place of the current version."""
        slot = self.slots[name]
        async with slot.lock:
            await self._swap(slot, new, time.perf_counter())

    async def _swap(self, slot: Slot, new: Deployment, started: float) -> None:
        spec, servable = new.spec, new.servable
        old, slot.current, slot.spec, slot.error = slot.current, new, spec, None
        metrics.MODEL_SWAPS.labels(model=spec.name, outcome="loaded").inc()
        card = new.card()
        selection = card.get("selection") or {}
        metrics.MODEL_INFO.labels(model=spec.name).info(
            {
                "name": str(card.get("name", spec.name)),
                "kind": new.kind.name,
                "version": spec.version,
                "backend": str(card.get("backend", "")),
                "variant": str(card.get("backend", "")),
                "fingerprint": servable.fingerprint,
                "cpu": ",".join(selection.get("cpu", ())),
            }
        )
        logger.info(
            "model loaded",
            extra={
                "model": spec.name,
                "version": spec.version,
                "fingerprint": servable.fingerprint,
                "seconds": round(time.perf_counter() - started, 3),
                "replaced": old.version if old else None,
                "card": card,
            },
        )
        if old is not None:
            new.canary, new.canary_percent = old.canary, old.canary_percent
            old.canary = None
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
            metrics.forget_model(name)  # after the drain: nothing re-creates a series

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
