"""The app factory and its lifespan: model, cache and batcher live and die with the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

from mlapi import __version__, metrics
from mlapi.auth import KeyChecker
from mlapi.cache import build_cache
from mlapi.errors import install_error_handlers
from mlapi.lifecycle import Lifecycle
from mlapi.logs import AccessLogMiddleware
from mlapi.model_dir import resolve_model_dir
from mlapi.predictor import Predictor
from mlapi.routes import Service, router
from mlapi.runtime import Classifier, load_classifier
from mlapi.settings import Settings

Loader = Callable[[Settings, Path], Classifier]
logger = logging.getLogger("mlapi")


def _init_sentry(settings: Settings) -> None:
    if settings.sentry_dsn:
        import sentry_sdk

        sentry_sdk.init(
            dsn=settings.sentry_dsn,
            traces_sample_rate=settings.sentry_traces_rate,
            release=f"mlapi@{__version__}",
        )


def _load(settings: Settings, loader: Loader) -> Classifier:
    classifier = loader(settings, resolve_model_dir(settings))
    classifier.warmup(settings.warmup_batches)
    return classifier


def create_app(
    settings: Settings | None = None,
    *,
    lifecycle: Lifecycle | None = None,
    loader: Loader = load_classifier,
) -> FastAPI:
    """Build the app. Nothing heavy happens here: the lifespan loads the model."""
    settings = settings or Settings()
    lifecycle = lifecycle or Lifecycle()
    service = Service(settings=settings, lifecycle=lifecycle, keys=KeyChecker(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _init_sentry(settings)
        classifier = await asyncio.to_thread(_load, settings, loader)
        info = classifier.info
        selection = info.selection or {}
        metrics.MODEL_INFO.info(
            {
                "name": info.name,
                "backend": info.backend,
                "variant": info.backend,
                "fingerprint": info.fingerprint,
                "cpu": ",".join(selection.get("cpu", ())),
            }
        )
        cache = build_cache(settings, info.fingerprint)
        predictor = Predictor(classifier, cache, settings)
        predictor.batcher.start()
        service.predictor = predictor
        lifecycle.mark_ready()
        logger.info(
            "ready",
            extra={
                "model": info.name,
                "variant": info.backend,
                "fingerprint": info.fingerprint,
                "selection": selection,
            },
        )
        try:
            yield
        finally:
            lifecycle.begin_drain()
            await predictor.batcher.close(settings.drain_grace_s)
            await cache.close()
            classifier.close()
            service.predictor = None
            logger.info("stopped")

    app = FastAPI(
        title="mlapi",
        version=__version__,
        lifespan=lifespan,
        description="Text classification with per-text caching and micro-batching.",
    )
    app.state.service = service
    app.include_router(router)
    install_error_handlers(app)
    Instrumentator(
        should_group_status_codes=False,
        excluded_handlers=["/metrics"],
    ).instrument(
        app,
        latency_lowr_buckets=metrics.LATENCY_BUCKETS,
        latency_highr_buckets=metrics.LATENCY_BUCKETS,
    ).expose(app, include_in_schema=False)
    app.add_middleware(AccessLogMiddleware, lifecycle=lifecycle, enabled=settings.access_log)
    return app
