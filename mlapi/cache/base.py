"""The cache interface: results per key (one per input), `None` on a miss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Cache(Protocol):
    """Stores the encoded result of one input, by its key, under one model fingerprint."""

    tier: str

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Sequence[tuple[str, bytes]]) -> None: ...

    async def close(self) -> None: ...
