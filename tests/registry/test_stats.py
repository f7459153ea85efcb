"""GET /stats counts what the test sent, per model."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_stats_match_the_requests_sent(registry_client: TestClient) -> None:
    for i in range(5):
        assert (
            registry_client.post("/predict", json={"text": [f"a {i}", "same"]}).status_code == 200
        )
    registry_client.post("/models/other/predict", json={"text": ["b", "c", "d"]})
    registry_client.post("/predict", json={"text": ["x" * 20_000]})  # refused before the model
    stats = registry_client.get("/stats").json()
    assert stats["ready"] is True and stats["pid"] > 0 and stats["uptime_s"] > 0
    sentiment, other = stats["models"]["sentiment"], stats["models"]["other"]
    assert (sentiment["requests"], sentiment["items"], sentiment["errors"]) == (5, 10, 0)
    memory = sentiment["cache"]["memory"]
    assert (memory["hits"], memory["misses"]) == (4, 6)  # "same" computed once, then hits
    assert sentiment["batches"] >= 1 and sentiment["mean_batch_size"] >= 1
    assert sentiment["latency_ms"]["count"] == 5 and sentiment["latency_ms"]["p99"] > 0
    assert sentiment["version"] == "1" and len(sentiment["fingerprint"]) == 16
    assert sentiment["redis"] is None and sentiment["queue_depth"] == 0
    assert (other["requests"], other["items"]) == (1, 3)
