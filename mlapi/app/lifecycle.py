"""Readiness and drain state shared by the app, its middleware and the server."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mlapi.observability import metrics


@dataclass
class Lifecycle:
    """`ready` after warm-up; `draining` from SIGTERM on. `inflight` counts API requests."""

    ready: bool = False
    draining: bool = False
    inflight: int = 0
    drain_started: float = 0.0

    @property
    def serving(self) -> bool:
        return self.ready and not self.draining

    def mark_ready(self) -> None:
        self.ready = True
        metrics.READY.set(1 if self.serving else 0)

    def begin_drain(self) -> None:
        if not self.draining:
            self.draining = True
            self.drain_started = time.monotonic()
            metrics.READY.set(0)

    def drained(self, *, delay_s: float, grace_s: float) -> bool:
        """True once nothing is in flight (after `delay_s`), or when `grace_s` ran out."""
        elapsed = time.monotonic() - self.drain_started
        if elapsed >= grace_s:
            return True
        return elapsed >= delay_s and self.inflight == 0
