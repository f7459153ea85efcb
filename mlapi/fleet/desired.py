"""The desired state of each model name, shared by every replica through Redis.

One signed record per name (a field of the hash `mlapi:desired`): the version that should
serve (folder, kind, settings), an optional canary with its share of texts, and the last few
versions for a rollback. Admin loads, unloads, rollbacks, canaries and training activations
write it; every replica converges to it (`mlapi.fleet.control`). Without Redis and a signing key the
record lives in the process: the same operations, for this replica alone.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from mlapi.settings import Settings
from mlapi.shared.redis import open_async
from mlapi.shared.signing import Signer, signer_for

HASH = "mlapi:desired"
HISTORY = 5  # versions kept per name for a rollback


class VersionSpec(BaseModel):
    """One version of a model: what a replica loads to serve it."""

    version: str
    path: str
    kind: str
    settings: dict[str, Any] = Field(default_factory=dict)


class Canary(BaseModel):
    spec: VersionSpec
    percent: float = Field(ge=0, le=100, description="Share of distinct texts it answers.")


class Desired(BaseModel):
    name: str
    current: VersionSpec | None = Field(description="None: the name is unloaded everywhere.")
    canary: Canary | None = None
    history: list[VersionSpec] = Field(default_factory=list, description="Newest first.")
    generation: int = 0
    updated_at: float = Field(default_factory=time.time)

    def replaced_by(self, spec: VersionSpec | None) -> Desired:
        """The record once `spec` serves: the version it replaces goes into the history."""
        history = self.history
        if self.current is not None and spec != self.current:
            history = [self.current, *history][:HISTORY]
        return self.model_copy(
            update={
                "current": spec,
                "history": history,
                "generation": self.generation + 1,
                "updated_at": time.time(),
            }
        )


class DesiredStore(Protocol):
    shared: bool

    async def all(self) -> dict[str, Desired]: ...

    async def put(self, desired: Desired) -> None: ...

    async def close(self) -> None: ...


class LocalDesiredStore:
    """This process alone (no Redis, or no signing key to trust what it holds)."""

    shared = False

    def __init__(self) -> None:
        self._records: dict[str, Desired] = {}

    async def all(self) -> dict[str, Desired]:
        return dict(self._records)

    async def put(self, desired: Desired) -> None:
        self._records[desired.name] = desired

    async def close(self) -> None:
        return None


class RedisDesiredStore:
    """Every replica's view; a record that fails the signature check is ignored."""

    shared = True

    def __init__(self, url: str, signer: Signer, *, password: str | None, timeout_s: float):
        self._signer = signer
        self._client = open_async(url, password=password, timeout_s=timeout_s)

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
    signer = signer_for(settings)
    if settings.redis_url and signer is not None:
        password = settings.redis_password
        return RedisDesiredStore(
            settings.redis_url,
            signer,
            password=password.get_secret_value() if password else None,
            timeout_s=max(1.0, settings.redis_timeout_ms / 1000),
        )
    return LocalDesiredStore()
