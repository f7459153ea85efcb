"""One JSON line per request, with the fields operators filter on."""

from __future__ import annotations

import logging

import orjson
import pytest
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.observability.logs import JSONFormatter
from mlapi.settings import Settings


def test_access_log_fields(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    logged = settings.model_copy(update={"access_log": True})
    with TestClient(create_app(logged)) as client, caplog.at_level(logging.INFO, "mlapi.access"):
        client.post("/predict", json={"text": ["log me"]}, headers={"X-Request-ID": "rid-1"})
        client.post("/predict", content=b"nope")
    records = [r for r in caplog.records if r.name == "mlapi.access"]
    assert len(records) == 2
    line = orjson.loads(JSONFormatter().format(records[0]))
    assert line["msg"] == "request"
    assert line["method"] == "POST" and line["path"] == "/predict"
    assert line["status"] == 200 and line["cache"] == "Miss"
    assert line["request_id"] == "rid-1"
    assert isinstance(line["latency_ms"], float)
    assert orjson.loads(JSONFormatter().format(records[1]))["status"] == 422


def test_formatter_keeps_exceptions() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "oops", (), exc_info=__import__("sys").exc_info()
        )
    line = orjson.loads(JSONFormatter().format(record))
    assert line["level"] == "ERROR" and "ValueError: bad" in line["exc"]
