"""Live figures per model version for GET /stats: counts, batches and a latency window."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from mlapi.serving.status import LatencyWindow

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

    def mean_batch_size(self) -> float:
        return round(self.batched_items / self.batches, 2) if self.batches else 0.0

    def padding_fraction(self) -> float | None:
        """The share of padded tokens that are padding; None before the first text batch."""
        return round(1 - self.tokens / self.padded_tokens, 4) if self.padded_tokens else None

    def latency_ms(self) -> LatencyWindow:
        horizon = time.monotonic() - WINDOW_S
        recent = [s for t, s in self._latencies if t >= horizon]
        if not recent:
            return LatencyWindow(window_s=WINDOW_S, count=0, p50=None, p95=None, p99=None)
        p50, p95, p99 = np.percentile(np.asarray(recent) * 1000, [50, 95, 99])
        return LatencyWindow(
            window_s=WINDOW_S,
            count=len(recent),
            p50=round(float(p50), 3),
            p95=round(float(p95), 3),
            p99=round(float(p99), 3),
        )
