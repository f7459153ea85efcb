"""Live figures per model version for GET /stats: counts, batches and a latency window."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

WINDOW_S = 60.0
WINDOW_MAX = 10_000  # latencies kept at most: /stats stays cheap under any load


class ModelStats:
    def __init__(self) -> None:
        self.requests = 0
        self.items = 0
        self.errors = 0
        self.batches = 0
        self.batched_items = 0
        self.inference_s = 0.0
        self.tokens = 0
        self.padded_tokens = 0
        self._latencies: deque[tuple[float, float]] = deque(maxlen=WINDOW_MAX)

    def request(self, items: int, seconds: float, ok: bool) -> None:
        self.requests += 1
        self.items += items
        if not ok:
            self.errors += 1
        self._latencies.append((time.monotonic(), seconds))

    def batch(self, size: int, seconds: float, tokens: int = 0, padded: int = 0) -> None:
        """The batcher's hook: called in its loop after every batch, with the batch's real
        tokens and its tokens once padded to its longest text (text models)."""
        self.batches += 1
        self.batched_items += size
        self.inference_s += seconds
        self.tokens += tokens
        self.padded_tokens += padded

    def latency_ms(self) -> dict[str, float | int | None]:
        horizon = time.monotonic() - WINDOW_S
        recent = [s for t, s in self._latencies if t >= horizon]
        if not recent:
            return {"window_s": WINDOW_S, "count": 0, "p50": None, "p95": None, "p99": None}
        p50, p95, p99 = np.percentile(np.asarray(recent) * 1000, [50, 95, 99])
        return {
            "window_s": WINDOW_S,
            "count": len(recent),
            "p50": round(float(p50), 3),
            "p95": round(float(p95), 3),
            "p99": round(float(p99), 3),
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "items": self.items,
            "errors": self.errors,
            "batches": self.batches,
            "mean_batch_size": round(self.batched_items / self.batches, 2) if self.batches else 0,
            "inference_s": round(self.inference_s, 3),
            "tokens": self.tokens,
            "padded_tokens": self.padded_tokens,
            "padding_fraction": (
                round(1 - self.tokens / self.padded_tokens, 4) if self.padded_tokens else None
            ),
            "latency_ms": self.latency_ms(),
        }
