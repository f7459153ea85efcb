"""In-process LRU tier: bounded, one per served model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class MemoryCache:
    tier = "memory"

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, bytes] = OrderedDict()

    async def get_many(self, texts: Sequence[str]) -> list[bytes | None]:
        data = self._data
        out: list[bytes | None] = []
        for text in texts:
            value = data.get(text)
            if value is not None:
                data.move_to_end(text)
            out.append(value)
        return out

    async def set_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        if self._max <= 0:
            return
        data = self._data
        for text, value in items:
            data[text] = value
            data.move_to_end(text)
        while len(data) > self._max:
            data.popitem(last=False)

    async def close(self) -> None:
        self._data.clear()
