"""The probe listener's app: `/health`, `/ready` and `/v2/health/*` on a port of their own
(`MLAPI_PROBE_PORT`), outside the data plane's connection limit, so that the kubelet never
sees the data plane's back-pressure (a full `MLAPI_MAX_CONNECTIONS` answers 503 to all).

The probes are answered by the service's own app (the same routes, the same readiness); the
listener has small bounds of its own, below.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mlapi.http.errors import error_body

PATHS = frozenset({"/health", "/ready", "/v2/health/live", "/v2/health/ready"})
METHODS = frozenset({"GET", "HEAD"})
# The listener's own bounds: a kubelet sends a few small requests at a time.
MAX_CONNECTIONS = 32
MAX_HEADER_BYTES = 8192
TIMEOUT_S = 5.0  # the head, and any body, of a probe request

_NOT_FOUND = error_body(
    "not_found", "the probe port serves only " + ", ".join(sorted(PATHS)) + " (GET)"
)


class ProbeApp:
    """The probe routes of `app`; anything else is a 404."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PATHS and scope["method"] in METHODS:
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no lifespan or websocket here
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_NOT_FOUND)).encode()),
        ]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": _NOT_FOUND})
