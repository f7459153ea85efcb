"""The desired state in Redis: one signed record per model name, a field of `mlapi:desired`.

Writes are fenced: a record is written only over a lower generation (WATCH/MULTI), so two admins
on two replicas cannot overwrite each other: the second gets a 409 `write_conflict`. A record
this replica cannot read (a newer release's fields) still fences by its signed generation.
Reads skip what cannot be read (a name that is not UTF-8, bad JSON, a hash of another type),
counted in `mlapi_redis_records_unreadable_total`, so one bad field never stops a pass.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from redis.exceptions import ResponseError, WatchError

from mlapi.errors import WriteConflict
from mlapi.fleet.desired import Desired, DesiredStore, LocalDesiredStore
from mlapi.observability import metrics
from mlapi.settings import Settings
from mlapi.shared.stores import SignedRedis, shared_or_local

HASH = "mlapi:desired"
WHAT = "desired state"
ATTEMPTS = 5  # WATCH retries when another name's field changed meanwhile


def _unreadable() -> None:
    metrics.REDIS_UNREADABLE.labels(what=WHAT).inc()


class RedisDesiredStore:
    """Every replica's view; a record that fails the signature check is ignored."""

    shared = True

    def __init__(self, redis: SignedRedis) -> None:
        self._signer = redis.signer
        self._client = redis.open(max(1.0, redis.timeout_s))

    @staticmethod
    def _where(name: str) -> str:
        return f"{HASH}/{name}"

    def _payload(self, name: str, raw: object) -> bytes | None:
        if not isinstance(raw, bytes | str):
            return None
        return self._signer.open(self._where(name), raw, WHAT)

    async def _hash(self) -> dict[bytes | str, bytes | str]:
        try:
            found: dict[bytes | str, bytes | str] = await self._client.hgetall(HASH)
        except ResponseError as exc:  # WRONGTYPE: the key holds no hash
            if "WRONGTYPE" not in str(exc):
                raise
            _unreadable()
            return {}
        return found

    async def all(self) -> dict[str, Desired]:
        found: dict[str, Desired] = {}
        for raw_name, raw in (await self._hash()).items():
            try:
                name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
            except UnicodeDecodeError:
                _unreadable()
                continue
            payload = self._payload(name, raw)
            if payload is None:
                continue
            try:
                desired = Desired.model_validate_json(payload)
            except ValidationError:
                _unreadable()
                continue
            if desired.name == name:
                found[name] = desired
        return found

    def generation(self, name: str, raw: object) -> int:
        """The signed generation of a stored record, read even where the record does not
        validate here; -1 for none or one without a valid signature (nothing to protect)."""
        payload = self._payload(name, raw)
        if payload is None:
            return -1
        try:
            value = json.loads(payload)
        except ValueError:
            return -1
        generation = value.get("generation") if isinstance(value, dict) else None
        return generation if isinstance(generation, int) else -1

    async def put(self, desired: Desired) -> None:
        """Writes `desired` where the stored generation is lower; else a `WriteConflict`."""
        name = desired.name
        value = self._signer.seal(self._where(name), desired.model_dump_json().encode())
        for _ in range(ATTEMPTS):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(HASH)
                    try:
                        stored = self.generation(name, await pipe.hget(HASH, name))
                    except ResponseError:  # WRONGTYPE: the write below fails and says so
                        stored = -1
                    if stored >= desired.generation:
                        raise WriteConflict(
                            f"the desired state of {name!r} is at generation {stored}, not "
                            f"below {desired.generation}: another admin or replica wrote it "
                            "first; nothing was overwritten (read it again and retry)"
                        )
                    pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
                    pipe.hset(HASH, name, value)
                    await pipe.execute()
                    return
                except WatchError:  # another field changed meanwhile: read again
                    continue
        raise WriteConflict(f"the desired state of {name!r} kept changing; nothing was written")

    async def close(self) -> None:
        await self._client.aclose()


def build_desired_store(settings: Settings) -> DesiredStore:
    return shared_or_local(settings, RedisDesiredStore, LocalDesiredStore)
