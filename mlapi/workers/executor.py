"""What runs a model's batches: the server process itself, or a pool of worker processes."""

from __future__ import annotations

from typing import Any, Protocol

# One key's answer: its encoded row, or the error for that key alone.
RowOrError = bytes | Exception


class ModelExecutor(Protocol):
    count: int  # batches it can run at once

    async def __call__(
        self, keys: list[str], tokens: list[list[int]] | None = None
    ) -> list[RowOrError]:
        """One answer per key. `tokens`: each key's token ids, made by the servable's
        `tokenize`."""

    def describe(self) -> list[dict[str, Any]]:
        """The worker processes, for /stats (none in-process)."""

    async def close(self) -> None: ...
