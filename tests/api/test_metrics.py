"""/metrics exposes HTTP latency with fine buckets and the model-path metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_metrics_after_traffic(client: TestClient) -> None:
    client.post("/predict", json={"text": ["metrics one", "metrics two"]})
    client.post("/predict", json={"text": ["metrics one"]})
    text = client.get("/metrics").text
    for name in (
        "http_request_duration_seconds_bucket",
        "mlapi_queue_depth",
        "mlapi_queue_wait_seconds_bucket",
        "mlapi_inference_seconds_bucket",
        "mlapi_batch_size_bucket",
        'mlapi_cache_hits_total{model="default",tier="memory"}',
        'mlapi_cache_misses_total{model="default",tier="memory"}',
        "mlapi_model_info{",
        "mlapi_ready 1.0",
    ):
        assert name in text, name
    assert 'le="0.001"' in text and 'le="0.0025"' in text
    assert 'handler="/predict"' in text
