"""uvicorn with a drain: on SIGTERM /ready turns 503, in-flight work ends, then the exit."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn

from mlapi.app.factory import create_app
from mlapi.app.lifecycle import Lifecycle
from mlapi.app.model_dir import resolve_model_dir
from mlapi.app.models_file import ConfigError, configured_versions
from mlapi.app.preflight import StartupError, bind, check_models, check_redis, warn_ignored
from mlapi.errors import ModelUnavailable
from mlapi.http.middleware.limits import BoundedHttpToolsProtocol
from mlapi.observability.logs import configure_logging
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.server")


class DrainingServer(uvicorn.Server):
    """The first SIGTERM starts a drain; the server stops once it is done (or grace ran out)."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, settings: Settings) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.settings = settings

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.lifecycle.draining and not self.should_exit:
            self.lifecycle.begin_drain()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        lifecycle = self.lifecycle
        if (
            lifecycle.draining
            and not self.should_exit
            and lifecycle.drained(
                delay_s=self.settings.drain_delay_s,
                grace_s=self.settings.drain_grace_s,
            )
        ):
            logger.info("drained; shutting down")
            self.should_exit = True
        return await super().on_tick(counter)


def run(settings: Settings | None = None) -> None:
    """Check what can fail fast, then serve until SIGTERM. Raises StartupError, logged once."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    warn_ignored(settings)
    sock = None
    try:
        sock = bind(settings.host, settings.port)  # before any model loads
        logger.info("bound %s:%d; loading the models", settings.host, settings.port)
        # Download before serving, with a clear message if offline; check the models config.
        model_dir = None if settings.models else resolve_model_dir(settings)
        versions, _ = configured_versions(settings, model_dir)
        check_models(versions, settings)
    except (ModelUnavailable, ConfigError, StartupError) as exc:
        if sock is not None:
            sock.close()
        logger.error(str(exc))
        raise StartupError(str(exc)) from None
    check_redis(settings)
    lifecycle = Lifecycle()
    app = create_app(settings, lifecycle=lifecycle)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop=settings.loop,
        http=BoundedHttpToolsProtocol.configure(
            settings.max_header_bytes, settings.header_timeout_s
        ),
        limit_concurrency=settings.max_connections,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.drain_grace_s),
        timeout_keep_alive=30,
    )
    server = DrainingServer(config, lifecycle, settings)
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits 3 when the lifespan fails, having logged why
        if exc.code not in (0, None):
            raise StartupError("the service did not start (the reason is logged above)") from None
        raise
    if not server.started:
        raise StartupError("the service did not start (the reason is logged above)")
