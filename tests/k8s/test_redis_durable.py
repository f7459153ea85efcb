"""The bundle's Redis keeps mlapi's shared state across a new pod (prod: the append-only file on
its claim), and dev's does not (an emptyDir). Run as real processes from the rendered pods."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from mlapi.fleet.desired import Desired
from mlapi.settings import Settings
from mlapi.shared.desired import build_desired_store
from mlapi.training.build import build_store
from mlapi.workers.poison import PoisonList
from tests.k8s.conftest import find
from tests.k8s.redis_bundle import BundleRedis, job, redis_pod, settings_for, start_bundle_redis

Docs = dict[str, list[dict[str, Any]]]
FINGERPRINT = "d" * 16


def write_state(settings: Settings) -> None:
    async def scenario() -> None:
        store = build_store(settings)
        await store.put(job("finished", state="succeeded"))
        await store.close()
        desired = build_desired_store(settings)
        await desired.put(Desired(name="default", current=None))
        await desired.close()
        poison = PoisonList(FINGERPRINT, settings)
        await poison.add("a crashing text")
        await poison.close()

    asyncio.run(scenario())


def read_state(settings: Settings) -> tuple[bool, list[str], set[str]]:
    async def scenario() -> tuple[bool, list[str], set[str]]:
        store = build_store(settings)
        found = await store.get("finished") is not None
        await store.close()
        desired = build_desired_store(settings)
        names = list(await desired.all())
        await desired.close()
        poison = PoisonList(FINGERPRINT, settings)
        crashing = await poison.find(["a crashing text", "fine"])
        await poison.close()
        return found, names, crashing

    return asyncio.run(scenario())


def killed_and_started_again(docs: list[dict[str, Any]], server: BundleRedis) -> BundleRedis:
    """The node or the pod dies (SIGKILL: no shutdown, no final fsync); a new pod starts with
    the same claim and new emptyDirs."""
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    return start_bundle_redis(docs, server.pod)


@pytest.mark.parametrize("overlay", ["prod", "dev"])
def test_shared_state_survives_a_new_pod_in_prod_only(
    rendered: Docs, tmp_path: Path, overlay: str
) -> None:
    docs = rendered[overlay]
    server = start_bundle_redis(docs, tmp_path / "pod")
    try:
        write_state(settings_for(server, tmp_path))
        server = killed_and_started_again(docs, server)
        found, names, crashing = read_state(settings_for(server, tmp_path))
    finally:
        server.stop()
    if overlay == "prod":
        assert (found, names, crashing) == (True, ["default"], {"a crashing text"})
    else:
        assert (found, names, crashing) == (False, [], set())


def test_prod_appends_every_write_to_its_claim_and_dev_to_an_emptydir(rendered: Docs) -> None:
    for overlay in ("prod", "dev"):
        conf = find(rendered[overlay], "ConfigMap", "mlapi-redis")["data"]["redis.conf"]
        lines = set(conf.splitlines())
        assert {"appendonly yes", "appendfsync everysec", "dir /data"} <= lines
        assert "maxmemory-policy volatile-lru" in lines  # control-plane keys have no TTL
    prod = redis_pod(rendered["prod"])
    data = next(v for v in prod["volumes"] if v["name"] == "data")
    claim = find(
        rendered["prod"], "PersistentVolumeClaim", data["persistentVolumeClaim"]["claimName"]
    )
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"  # 4 x maxmemory 256mb
    deployment = find(rendered["prod"], "Deployment", "mlapi-redis")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # one writer of the claim
    dev = redis_pod(rendered["dev"])
    assert next(v for v in dev["volumes"] if v["name"] == "data") == {
        "name": "data",
        "emptyDir": {"sizeLimit": "1Gi"},
    }
    assert not [d for d in rendered["dev"] if d["kind"] == "PersistentVolumeClaim"]


def test_redis_has_memory_for_the_rewrites_fork(rendered: Docs) -> None:
    conf = find(rendered["prod"], "ConfigMap", "mlapi-redis")["data"]["redis.conf"]
    maxmemory = next(line for line in conf.splitlines() if line.startswith("maxmemory "))
    assert maxmemory == "maxmemory 256mb"
    limits = redis_pod(rendered["prod"])["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "512Mi"  # 2 x maxmemory: the fork's copied pages at worst
