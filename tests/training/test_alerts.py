"""A failed job is an ERROR log line, which Sentry receives as an event when configured."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from mlapi.observability import metrics
from mlapi.settings import Settings
from mlapi.training.runners import RunStatus
from mlapi.training.schemas import TrainRequest
from mlapi.training.service import JobService
from mlapi.training.store import SQLiteJobStore
from tests.training.fake_runner import ScriptedRunner


class Recorder(Transport):
    events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.events += [item.payload.json for item in envelope.items if item.payload.json]


def test_a_failure_is_logged_counted_and_sent_to_sentry(
    tmp_path: Path, model_dir: Path, dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sentry_sdk.init(dsn="https://public@sentry.invalid/1", transport=Recorder)
    settings = Settings(train_dir=tmp_path / "train", train_data_roots=str(tmp_path))
    service = JobService(
        settings,
        SQLiteJobStore(tmp_path / "j.db"),
        ScriptedRunner(RunStatus("failed", "trainer exited with status 137: killed")),
        lambda: None,
    )
    request = TrainRequest(model="m", base_model=str(model_dir), dataset=str(dataset))
    before = metrics.TRAIN_FINISHED.labels(state="failed")._value.get()

    async def scenario() -> str:
        job = await service.submit(request)
        await service.tick()  # starts
        await service.tick()  # polls: failed
        return (await service.get(job.id)).state

    try:
        with caplog.at_level(logging.ERROR, logger="mlapi.training"):
            assert asyncio.run(scenario()) == "failed"
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
    assert metrics.TRAIN_FINISHED.labels(state="failed")._value.get() == before + 1
    assert "training job failed: trainer exited with status 137: killed" in caplog.text
    messages = [e.get("logentry", {}).get("formatted", "") for e in Recorder.events]
    assert any("training job failed: trainer exited with status 137" in m for m in messages)
