"""In-process LRU tier: bounded, one per served model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class MemoryCache:
    tier = "memory"

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, bytes] = OrderedDict()

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        data = self._data
        out: list[bytes | None] = []
        for key in keys:
            value = data.get(key)
            if value is not None:
                data.move_to_end(key)
            out.append(value)
        return out

    async def set_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        if self._max <= 0:
            return
        data = self._data
        for key, value in items:
            data[key] = value
            data.move_to_end(key)
        while len(data) > self._max:
            data.popitem(last=False)

    async def close(self) -> None:
        self._data.clear()
