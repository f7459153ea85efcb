"""Desired-state records are fenced by their generation (a real redis-server): a replayed older
record rolls no replica back, two writers of one generation cannot both win, and a newer record
a replica cannot read is not overwritten by it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis

from harness.servers import RedisServer
from mlapi.errors import WriteConflict
from mlapi.fleet.desired import Desired
from mlapi.observability import metrics
from mlapi.settings import Settings
from mlapi.shared.desired import HASH, RedisDesiredStore, build_desired_store
from mlapi.shared.signing import Signer
from tests.fleet.conftest import ADMIN, KEY, Replicas, converge, serving


def stale() -> float:
    return metrics.REDIS_STALE.labels(what="desired state")._value.get()


def test_a_replayed_older_record_rolls_no_replica_back(
    replicas: Replicas, second_model_dir: Path, redis_server: RedisServer
) -> None:
    a = replicas()
    client = redis.Redis.from_url(redis_server.url)
    assert a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    assert a.post("/models/default/rollback", headers=ADMIN).status_code == 200
    older = client.hget(HASH, "default")  # generation 2: version 1
    again = a.post("/models/default/rollback", headers=ADMIN)  # generation 3: version 2
    assert again.status_code == 200, again.text
    assert serving(a)["fleet"]["desired"]["generation"] == 3
    before = stale()
    client.hset(HASH, "default", older)  # validly signed, by this very fleet
    converge(a)
    assert stale() > before
    entry = serving(a)
    assert entry["version"] == "2" and entry["fleet"]["desired"]["generation"] == 3
    assert not entry["fleet"]["skew"]
    assert client.hget(HASH, "default") != older  # the newer record was written back
    late = replicas()  # a pod started after the replay joins generation 3
    assert serving(late)["version"] == "2"


def test_two_writers_of_one_generation_cannot_both_win(fleet_settings: Settings) -> None:
    async def scenario() -> None:
        first, second = build_desired_store(fleet_settings), build_desired_store(fleet_settings)
        assert isinstance(first, RedisDesiredStore)
        record = Desired(name="m", current=None, generation=4)
        await first.put(record)
        with pytest.raises(WriteConflict, match="generation 4"):
            await second.put(record.model_copy(update={"canary": None, "history": []}))
        with pytest.raises(WriteConflict):
            await second.put(record.model_copy(update={"generation": 3}))
        await second.put(record.model_copy(update={"generation": 5}))
        assert (await first.all())["m"].generation == 5
        await first.close()
        await second.close()

    asyncio.run(scenario())


def test_a_newer_record_this_replica_cannot_read_is_not_overwritten(
    replicas: Replicas, second_model_dir: Path, redis_server: RedisServer
) -> None:
    """A record of a newer release (a field this one does not know) is skipped, but an admin
    load here cannot write over it with a lower generation: a 409 `write_conflict`, and the
    record is kept."""
    a = replicas()
    version = {"version": "9", "path": "/models/x", "kind": "text-classifier", "quantum": 1}
    newer = {"name": "default", "current": version, "generation": 10}
    sealed = Signer(KEY).seal(f"{HASH}/default", json.dumps(newer).encode())
    client = redis.Redis.from_url(redis_server.url)
    client.hset(HASH, "default", sealed)
    refused = a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["type"] == "write_conflict"
    assert client.hget(HASH, "default") == sealed
    assert a.get("/ready").status_code == 200
