"""uvicorn with a drain: on SIGTERM /ready turns 503, in-flight work ends, then the exit.

With `MLAPI_PROBE_PORT`, a second listener in the same loop serves the probes only
(`mlapi.http.probes`), with its own connection limit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from types import FrameType

import uvicorn
from starlette.types import ASGIApp
from uvicorn.server import ServerState

from mlapi.app.factory import create_app
from mlapi.app.lifecycle import Lifecycle
from mlapi.app.model_dir import resolve_model_dir
from mlapi.app.models_file import ConfigError, configured_versions
from mlapi.app.preflight import StartupError, bind, check_models, check_redis, warn_ignored
from mlapi.errors import ModelUnavailable
from mlapi.http import probes
from mlapi.http.connection import BoundedHttpToolsProtocol
from mlapi.observability.logs import configure_logging
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.server")


class DrainingServer(uvicorn.Server):
    """The first SIGTERM starts a drain; the server stops once it is done (or grace ran out)."""

    def __init__(
        self,
        config: uvicorn.Config,
        lifecycle: Lifecycle,
        settings: Settings,
        probe_listener: ProbeListener | None = None,
    ) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.settings = settings
        self.probe_listener = probe_listener

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.probe_listener is not None and not self.should_exit:
            self.servers.append(await self.probe_listener.start(self.lifespan.state))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.probe_listener is not None:
            self.probe_listener.shutdown()
        await super().shutdown(sockets)

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


class ProbeListener:
    """The probes' own listener: the service's app behind `ProbeApp`, served by the bounded
    protocol with small bounds of its own, in the main server's loop (started once the models
    are loaded, as the main port is)."""

    def __init__(self, app: ASGIApp, sock: socket.socket, settings: Settings) -> None:
        self.sock = sock
        self.state = ServerState()
        self.config = uvicorn.Config(
            probes.ProbeApp(app),
            lifespan="off",  # the main server runs the app's lifespan
            http=BoundedHttpToolsProtocol.configure(
                max_header_bytes=probes.MAX_HEADER_BYTES,
                header_timeout_s=min(settings.header_timeout_s, probes.TIMEOUT_S),
                body_idle_timeout_s=probes.TIMEOUT_S,
                body_timeout_s=probes.TIMEOUT_S,
            ),
            limit_concurrency=probes.MAX_CONNECTIONS,
            access_log=False,
            log_config=None,
            timeout_keep_alive=5,
        )

    async def start(self, app_state: dict[str, object]) -> asyncio.Server:
        config, state = self.config, self.state
        config.load()

        def protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=app_state, _loop=_loop
            )

        server = await asyncio.get_running_loop().create_server(protocol, sock=self.sock)
        logger.info("probes on %s:%d", *self.sock.getsockname()[:2])
        return server

    def shutdown(self) -> None:
        for connection in list(self.state.connections):
            connection.shutdown()


def run(settings: Settings | None = None) -> None:
    """Check what can fail fast, then serve until SIGTERM. Raises StartupError, logged once."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    warn_ignored(settings)
    sock = probe_sock = None
    try:
        sock = bind(settings.host, settings.port)  # before any model loads
        if settings.probe_port is not None:
            probe_sock = bind(settings.host, settings.probe_port, setting="MLAPI_PROBE_PORT")
        logger.info("bound %s:%d; loading the models", settings.host, settings.port)
        # Download before serving, with a clear message if offline; check the models config.
        model_dir = None if settings.models else resolve_model_dir(settings)
        versions, _ = configured_versions(settings, model_dir)
        check_models(versions, settings)
    except (ModelUnavailable, ConfigError, StartupError) as exc:
        for bound in (sock, probe_sock):
            if bound is not None:
                bound.close()
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
            max_header_bytes=settings.max_header_bytes,
            header_timeout_s=settings.header_timeout_s,
            body_idle_timeout_s=settings.body_idle_timeout_s,
            body_timeout_s=settings.body_timeout_s,
        ),
        limit_concurrency=settings.max_connections,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.drain_grace_s),
        timeout_keep_alive=30,
    )
    probe_listener = None if probe_sock is None else ProbeListener(app, probe_sock, settings)
    server = DrainingServer(config, lifecycle, settings, probe_listener)
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits 3 when the lifespan fails, having logged why
        if exc.code not in (0, None):
            raise StartupError("the service did not start (the reason is logged above)") from None
        raise
    if not server.started:
        raise StartupError("the service did not start (the reason is logged above)")
