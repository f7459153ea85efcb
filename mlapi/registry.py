"""Named models, each serving one version; a new version is built beside the old one.

A swap loads and warms the new version in a worker thread while the old one keeps serving,
replaces the slot's reference in one assignment, then lets the old version finish what it
accepted and frees it. One load per name at a time: at most two versions of a model exist.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
            runner, self.cache, settings, model=spec.name, on_batch=self.stats.batch
        )
        self.loaded_at = time.time()
        self.inflight = 0

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

    async def predict(self, keys: list[str]) -> tuple[list[bytes], str]:
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
        }


def _ratio(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None


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
            version = version or (str(int(old) + 1) if old.isdigit() else f"{old}+1")
        return dataclasses.replace(
            spec,
            path=path or spec.path,
            kind=kind or spec.kind,
            version=version or spec.version,
            overrides={**spec.overrides, **(overrides or {})},
        )

    async def load(
        self,
        name: str,
        path: Path | None = None,
        *,
        version: str | None = None,
        kind: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Deployment:
        """Load `name` (a new version when it serves already); the old one serves until then.

        A name, version or folder from a request is checked first (`mlapi.admission`): the
        folder must lie under the model roots."""
        check_name(name)
        check_version(version)
        if path is not None:
            path = check_path(path, self.roots)
        unknown = set(overrides or {}) - MODEL_SETTINGS
        if unknown:
            raise ModelLoadFailed(f"not per-model settings: {sorted(unknown)}")
        spec = self._spec_for(name, path, version, kind, overrides)
        if spec.kind not in self.kinds:
            raise ModelLoadFailed(f"unknown kind {spec.kind!r}; known: {sorted(self.kinds)}")
        try:
            spec.settings(self.settings)
        except ValidationError as exc:
            raise ModelLoadFailed(f"invalid settings for {name!r}: {exc}") from None
        slot = self.slots.setdefault(name, Slot(name, spec))
        async with slot.lock:
            model_kind = self.kinds[spec.kind]
            settings = spec.settings(self.settings)
            started = time.perf_counter()
            try:
                new = await build(spec, model_kind, settings)
            except Exception as exc:  # a broken folder: the old version keeps serving
                metrics.MODEL_SWAPS.labels(model=name, outcome="failed").inc()
                slot.error = f"{type(exc).__name__}: {exc}"
                logger.warning("load of %s from %s failed: %s", name, spec.path, slot.error)
                serving = f"; version {slot.current.version} keeps serving" if slot.current else ""
                raise ModelLoadFailed(
                    f"could not load {name!r} from {spec.path}: {slot.error}{serving}"
                ) from exc
            servable = new.servable
            new.predictor.batcher.start()
            old, slot.current, slot.spec, slot.error = slot.current, new, spec, None
            metrics.MODEL_SWAPS.labels(model=name, outcome="loaded").inc()
            card = new.card()
            selection = card.get("selection") or {}
            metrics.MODEL_INFO.labels(model=name).info(
                {
                    "name": str(card.get("name", name)),
                    "kind": model_kind.name,
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
                    "model": name,
                    "version": spec.version,
                    "fingerprint": servable.fingerprint,
                    "seconds": round(time.perf_counter() - started, 3),
                    "replaced": old.version if old else None,
                    "card": new.card(),
                },
            )
            if old is not None:
                await old.close(self.settings.drain_grace_s)
        return new

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
