"""The desired state of each model name, shared by every replica through Redis.

One signed record per name (a field of the hash `mlapi:desired`): the version that should
serve (folder, kind, settings), an optional canary with its share of texts, and the last few
versions for a rollback. Admin loads, unloads, rollbacks, canaries and training activations
write it; every replica converges to it (`mlapi.fleet.control`). The records are kept in Redis
(`mlapi.shared.desired`), or without Redis and a signing key in the process: the same
operations, for this replica alone.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from pydantic import BaseModel, Field, model_validator

from mlapi.errors import WriteConflict
from mlapi.serving.version import ModelVersion

HISTORY = 5  # versions kept per name for a rollback


class Canary(BaseModel):
    spec: ModelVersion = Field(description="The canary's version.")
    percent: float = Field(ge=0, le=100, description="Share of distinct texts it answers.")


class Desired(BaseModel):
    name: str
    current: ModelVersion | None = Field(description="None: the name is unloaded everywhere.")
    canary: Canary | None = None
    history: list[ModelVersion] = Field(default_factory=list, description="Newest first.")
    generation: int = 0
    updated_at: float = Field(default_factory=time.time)

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        """Versions recorded without their name (`version`, `path`, `kind`, `settings`, as
        records were first written) take the record's."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data

        def named(version: Any) -> Any:
            if isinstance(version, dict) and "name" not in version:
                return {"name": data["name"], **version}
            return version

        data = dict(data)
        if "current" in data:
            data["current"] = named(data["current"])
        if isinstance(data.get("history"), list):
            data["history"] = [named(v) for v in data["history"]]
        if isinstance(data.get("canary"), dict):
            data["canary"] = {**data["canary"], "spec": named(data["canary"].get("spec"))}
        return data

    def changed(self, **update: Any) -> Desired:
        """The next generation of this record, with `update` applied."""
        return self.model_copy(
            update={**update, "generation": self.generation + 1, "updated_at": time.time()}
        )

    def replaced_by(self, version: ModelVersion | None) -> Desired:
        """The record once `version` serves: the version it replaces goes into the history."""
        history = self.history
        if self.current is not None and version != self.current:
            history = [self.current, *history][:HISTORY]
        return self.changed(current=version, history=history)


class DesiredStore(Protocol):
    shared: bool

    async def all(self) -> dict[str, Desired]: ...

    async def put(self, desired: Desired) -> None:
        """Writes `desired` over a lower generation only; else raises `WriteConflict`."""
        ...

    async def close(self) -> None: ...


class LocalDesiredStore:
    """This process alone (no Redis, or no signing key to trust what it holds)."""

    shared = False

    def __init__(self) -> None:
        self._records: dict[str, Desired] = {}

    async def all(self) -> dict[str, Desired]:
        return dict(self._records)

    async def put(self, desired: Desired) -> None:
        stored = self._records.get(desired.name)
        if stored is not None and stored.generation >= desired.generation:
            raise WriteConflict(
                f"the desired state of {desired.name!r} is at generation {stored.generation}"
            )
        self._records[desired.name] = desired

    async def close(self) -> None:
        return None
