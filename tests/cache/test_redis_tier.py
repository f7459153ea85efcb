"""The Redis tier against a real redis-server: hits, partial hits, TTL, isolation, outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from harness.servers import RedisServer
from mlapi.app.factory import create_app
from mlapi.settings import Settings
from mlapi.tools.synthetic import tiny_distilbert
from tests.waiting import wait_until


@pytest.fixture
def redis_settings(settings: Settings, redis_server: RedisServer) -> Settings:
    # No memory tier: every lookup must go to Redis.
    return settings.model_copy(
        update={
            "redis_url": redis_server.url,
            "cache_size": 0,
            "redis_retry_s": 0.2,
            "redis_timeout_ms": 200,
        }
    )


@pytest.fixture
def rclient(redis_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(redis_settings)) as client:
        yield client


def keys(server: RedisServer) -> list[bytes]:
    return sorted(redis.Redis.from_url(server.url).keys("mlapi:*"))


def test_results_are_shared_through_redis(
    redis_settings: Settings, redis_server: RedisServer
) -> None:
    with TestClient(create_app(redis_settings)) as first:
        cold = first.post("/predict", json={"text": ["alpha", "beta"]})
        assert cold.headers["x-mlapi-cache"] == "Miss"
    assert len(keys(redis_server)) == 2
    with TestClient(create_app(redis_settings)) as second:  # a new pod, empty memory
        warm = second.post("/predict", json={"text": ["beta", "alpha"]})
        assert warm.headers["x-mlapi-cache"] == "Hit"
        assert warm.json()["predictions"] == cold.json()["predictions"][::-1]
        partial = second.post("/predict", json={"text": ["alpha", "gamma"]})
        assert partial.headers["x-mlapi-cache"] == "Partial"
    assert len(keys(redis_server)) == 3


def test_ttl_expires_entries(redis_settings: Settings, redis_server: RedisServer) -> None:
    short = redis_settings.model_copy(update={"redis_ttl_s": 1})
    with TestClient(create_app(short)) as client:
        client.post("/predict", json={"text": ["short lived"]})
        ttl = redis.Redis.from_url(redis_server.url).ttl(keys(redis_server)[0])
        assert 0 < ttl <= 1
        wait_until(lambda: keys(redis_server) == [], "expiry of the 1 s TTL")
        again = client.post("/predict", json={"text": ["short lived"]})
        assert again.headers["x-mlapi-cache"] == "Miss"


def test_fingerprint_isolates_models(
    redis_settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    other_dir = tiny_distilbert(tmp_path / "other", seed=1)
    other = redis_settings.model_copy(update={"model_dir": other_dir})
    with TestClient(create_app(redis_settings)) as a:
        a_rows = a.post("/predict", json={"text": ["shared text"]}).json()
    with TestClient(create_app(other)) as b:
        response = b.post("/predict", json={"text": ["shared text"]})
        assert response.headers["x-mlapi-cache"] == "Miss"
        assert response.json() != a_rows
    prefixes = {key.split(b":")[1] for key in keys(redis_server)}
    assert len(prefixes) == 2


def test_redis_killed_then_back(rclient: TestClient, redis_server: RedisServer) -> None:
    assert rclient.post("/predict", json={"text": ["before"]}).status_code == 200
    redis_server.stop()
    for i in range(5):
        response = rclient.post("/predict", json={"text": ["before", f"during {i}"]})
        assert response.status_code == 200
    metrics = rclient.get("/metrics").text
    assert "mlapi_redis_errors_total" in metrics
    redis_server.start()  # same port, empty

    def write_after() -> list[bytes]:
        rclient.post("/predict", json={"text": ["after"]})
        return keys(redis_server)

    # The service reconnects by itself once the pause after errors (redis_retry_s) runs out.
    wait_until(write_after, "cache write after Redis came back")
    assert rclient.post("/predict", json={"text": ["after"]}).headers["x-mlapi-cache"] == "Hit"


def asleep(server: RedisServer) -> bool:
    """Redis answers no PING within 50 ms (it runs one command at a time)."""
    try:
        redis.Redis.from_url(server.url, socket_timeout=0.05).ping()
    except redis.exceptions.TimeoutError:
        return True
    return False


def test_slow_redis_times_out_instead_of_stalling(
    rclient: TestClient, redis_server: RedisServer
) -> None:
    # Redis sleeps 5 s: the wait for it to be asleep (a bound for failure) must end sooner.
    # The sleeper's own client waits longer than that (redis-py's default timeout is 5 s too).
    sleeper = threading.Thread(
        target=lambda: redis.Redis.from_url(redis_server.url, socket_timeout=60).execute_command(
            "DEBUG", "SLEEP", 5
        )
    )
    sleeper.start()
    wait_until(lambda: asleep(redis_server), "Redis blocked by DEBUG SLEEP", timeout=4)
    started = time.monotonic()
    response = rclient.post("/predict", json={"text": ["while redis sleeps"]})
    elapsed = time.monotonic() - started
    sleeper.join()
    assert response.status_code == 200
    assert elapsed < 1.0, f"a slow Redis must not stall requests ({elapsed:.2f}s)"


def test_password_comes_from_its_own_setting(settings: Settings, tmp_path: Path) -> None:
    from harness.servers import RedisServer
    from tests.binaries import require_binary

    server = RedisServer(require_binary("redis-server"), tmp_path, password="s3cret-test")
    server.start()
    try:
        with_password = settings.model_copy(
            update={
                "redis_url": server.url,
                "cache_size": 0,
                "redis_password": SecretStr("s3cret-test"),
            }
        )
        with TestClient(create_app(with_password)) as c:
            c.post("/predict", json={"text": ["locked"]})
            assert c.post("/predict", json={"text": ["locked"]}).headers["x-mlapi-cache"] == "Hit"
        assert redis.Redis.from_url(server.url, password="s3cret-test").dbsize() == 1
    finally:
        server.stop()
