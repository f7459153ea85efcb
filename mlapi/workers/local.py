"""The model in the server process (`MLAPI_WORKERS=0`): one thread runs the batches."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlapi.kinds.base import Servable
from mlapi.workers.executor import RowOrError


class InProcess:
    count = 1

    def __init__(self, servable: Servable) -> None:
        self._servable = servable
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlapi-model")

    async def __call__(
        self, keys: list[str], tokens: list[list[int]] | None = None
    ) -> list[RowOrError]:
        loop = asyncio.get_running_loop()
        servable = self._servable
        if tokens is None:
            rows = await loop.run_in_executor(self._executor, servable.run, keys)
        else:
            rows = await loop.run_in_executor(self._executor, servable.run_tokens, keys, tokens)
        return list(rows)

    def describe(self) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        await asyncio.to_thread(self._servable.close)
