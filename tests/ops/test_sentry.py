"""Sentry events carry no request body, no text and no key: an unexpected error on /predict is
reported with its method and URL only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sentry_sdk
from fastapi.testclient import TestClient
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from mlapi.app.factory import create_app
from mlapi.observability.sentry import init_sentry
from mlapi.settings import Settings
from tests.fakes import POISON, fake_loader

SECRET_TEXT = "my bank password is hunter2"


class Recorder(Transport):
    events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.events += [item.payload.json for item in envelope.items if item.payload.json]


def test_an_error_event_holds_no_text_body_or_key(settings: Settings, model_dir: Path) -> None:
    Recorder.events = []
    init_sentry(
        settings.model_copy(update={"sentry_dsn": "https://public@sentry.invalid/1"}),
        transport=Recorder,
    )
    _, loader = fake_loader()
    try:
        with TestClient(create_app(settings, loader=loader)) as client:
            response = client.post(
                "/predict?q=" + "hunter2",
                json={"text": [SECRET_TEXT, POISON]},
                headers={"Authorization": "Bearer key-hunter2", "Cookie": "s=hunter2"},
            )
            assert response.status_code == 500
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
    assert Recorder.events, "the failed batch reaches Sentry"
    sent = json.dumps(Recorder.events)
    assert "hunter2" not in sent
    assert all(set(e.get("request", {})) <= {"method", "url"} for e in Recorder.events)
