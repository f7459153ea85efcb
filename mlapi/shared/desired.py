"""The desired state in Redis: one signed record per model name, a field of `mlapi:desired`."""

from __future__ import annotations

from pydantic import ValidationError

from mlapi.fleet.desired import Desired, DesiredStore, LocalDesiredStore
from mlapi.settings import Settings
from mlapi.shared.stores import SignedRedis, shared_or_local

HASH = "mlapi:desired"


class RedisDesiredStore:
    """Every replica's view; a record that fails the signature check is ignored."""

    shared = True

    def __init__(self, redis: SignedRedis) -> None:
        self._signer = redis.signer
        self._client = redis.open(max(1.0, redis.timeout_s))

    @staticmethod
    def _where(name: str) -> str:
        return f"{HASH}/{name}"

    async def all(self) -> dict[str, Desired]:
        found: dict[str, Desired] = {}
        for raw_name, raw in (await self._client.hgetall(HASH)).items():
            name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
            payload = self._signer.open(self._where(name), raw, "desired state")
            if payload is None:
                continue
            try:
                desired = Desired.model_validate_json(payload)
            except ValidationError:
                continue
            if desired.name == name:
                found[name] = desired
        return found

    async def put(self, desired: Desired) -> None:
        value = self._signer.seal(self._where(desired.name), desired.model_dump_json().encode())
        await self._client.hset(HASH, desired.name, value)

    async def close(self) -> None:
        await self._client.aclose()


def build_desired_store(settings: Settings) -> DesiredStore:
    return shared_or_local(settings, RedisDesiredStore, LocalDesiredStore)
