"""The app factory and its lifespan: model, cache and batcher live and die with the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mlapi import __version__
from mlapi.app.lifecycle import Lifecycle
from mlapi.app.model_dir import resolve_model_dir
from mlapi.app.models_file import configured_versions
from mlapi.fleet.control import Fleet
from mlapi.http.auth import AdminChecker, KeyChecker
from mlapi.http.deps import Components
from mlapi.http.docs_ui import install_docs_ui
from mlapi.http.endpoint import InferenceEndpoint
from mlapi.http.errors import install_error_handlers
from mlapi.http.middleware.access_log import AccessLogMiddleware
from mlapi.http.middleware.inflight import InFlightMiddleware
from mlapi.http.middleware.limits import BodyLimit
from mlapi.http.middleware.metrics import HttpMetricsMiddleware
from mlapi.http.openapi import DESCRIPTION, TAGS
from mlapi.http.routes import metrics, router
from mlapi.http.stack import ServiceApp
from mlapi.kinds import discover
from mlapi.kinds.text_classifier import TextClassifierKind
from mlapi.observability.sentry import init_sentry
from mlapi.protocols.v2 import metadata as v2
from mlapi.runtime import ClassifierLoader
from mlapi.serving.registry import Registry
from mlapi.settings import Settings
from mlapi.shared.desired import build_desired_store
from mlapi.training import api as train_api
from mlapi.training.build import build_job_service

logger = logging.getLogger("mlapi")


def build_registry(settings: Settings, loader: ClassifierLoader | None = None) -> Registry:
    model_dir = None if settings.models is not None else resolve_model_dir(settings)
    versions, default = configured_versions(settings, model_dir)
    kinds = discover(settings.extra_kinds())
    if loader is not None:
        kinds["text-classifier"] = TextClassifierKind(loader)
    return Registry(settings, versions, kinds, default)


def create_app(
    settings: Settings | None = None,
    *,
    lifecycle: Lifecycle | None = None,
    loader: ClassifierLoader | None = None,
) -> FastAPI:
    """Build the app. Nothing heavy happens here: the lifespan loads the models."""
    settings = settings or Settings()
    lifecycle = lifecycle or Lifecycle()
    components = Components(
        settings=settings,
        lifecycle=lifecycle,
        keys=KeyChecker(settings.api_keys),
        admin=AdminChecker(settings.admin_keys),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        init_sentry(settings)
        registry = build_registry(settings, loader)
        fleet = Fleet(registry, build_desired_store(settings), settings.desired_poll_s)
        await fleet.start()  # the desired versions where there are some, else the configured
        components.registry, components.fleet = registry, fleet
        training = build_job_service(
            settings, lambda: components.registry, lambda: components.fleet
        )
        await training.start()
        app.state.training = training
        lifecycle.mark_ready()
        logger.info("ready", extra={"models": [e.model_dump() for e in registry.index()]})
        try:
            yield
        finally:
            lifecycle.begin_drain()
            await training.close()
            await fleet.close()
            await registry.close(settings.drain_grace_s)
            logger.info("stopped")

    app = ServiceApp(
        # FastAPI's OpenTelemetry hooks ask the global providers on every request (a visible
        # share of a py-spy profile under load); mlapi's telemetry is Prometheus and Sentry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="mlapi",
        version=__version__,
        lifespan=lifespan,
        # MLAPI_DOCS=false (prod): no /docs, /redoc or /openapi.json; the schema names admin routes.
        docs_url=None,  # /docs and /redoc from the package's own assets: install_docs_ui
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    if settings.docs:
        install_docs_ui(app)
    app.state.components = components
    app.include_router(router)
    app.include_router(v2.router)
    app.include_router(train_api.router)
    app.add_route(metrics.PATH, metrics.metrics, include_in_schema=False)
    install_error_handlers(app)
    # One stack: access log (request ID) outermost, the in-flight count, HTTP metrics, then
    # the body limit (before any key check or parsing), then the inference endpoint or FastAPI.
    limits = {
        "max_body_bytes": settings.max_body_bytes,
        "max_upload_bytes": settings.train_max_upload_bytes,
    }
    app.install(
        InferenceEndpoint(components),
        lambda inner: AccessLogMiddleware(
            InFlightMiddleware(HttpMetricsMiddleware(BodyLimit(inner, **limits)), lifecycle),
            enabled=settings.access_log,
        ),
    )
    return app
