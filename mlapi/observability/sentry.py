"""Sentry, when MLAPI_SENTRY_DSN is set: errors and ERROR log lines, never what users sent.

Events leave without request bodies, query strings, cookies or headers, and without frame
variables (a frame of the predict path holds the texts); `scrub` is the last check before an
event is sent.
"""

from __future__ import annotations

from typing import Any

from mlapi import __version__
from mlapi.settings import Settings

KEPT_REQUEST_FIELDS = ("method", "url")


def scrub(event: Any, hint: Any) -> Any:
    """`before_send`: the request reduced to its method and URL, breadcrumbs without data."""
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {k: request[k] for k in KEPT_REQUEST_FIELDS if k in request}
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        crumb.pop("data", None)
    event.pop("extra", None)
    return event


def init_sentry(settings: Settings, transport: Any = None) -> None:
    if not settings.sentry_dsn:
        return
    import sentry_sdk

    options: dict[str, Any] = {"transport": transport} if transport is not None else {}
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        traces_sample_rate=settings.sentry_traces_rate,
        release=f"mlapi@{__version__}",
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        before_send=scrub,
        **options,
    )
