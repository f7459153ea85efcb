"""The cache interface: results per text, `None` on a miss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Cache(Protocol):
    """Stores the encoded result of one text under one model fingerprint."""

    tier: str

    async def get_many(self, texts: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Sequence[tuple[str, bytes]]) -> None: ...

    async def close(self) -> None: ...
