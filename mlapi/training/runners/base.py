"""The one interface both job runners (a local process, a Kubernetes Job) implement."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol


@dataclass(frozen=True)
class RunSpec:
    """One run of `python -m trainer`: its arguments (without --threads) and its folders."""

    job_id: str
    args: tuple[str, ...]
    workdir: Path  # the job's folder: uploaded data, the log, the output below it
    output: Path


@dataclass(frozen=True)
class RunStatus:
    state: Literal["running", "succeeded", "failed"]
    error: str | None = None


class JobRunner(Protocol):
    name: str
    # Can a replica watch a run another replica started? (A Kubernetes Job: yes; a process: no.)
    adopts: bool

    async def start(self, spec: RunSpec) -> None: ...

    async def poll(self, spec: RunSpec) -> RunStatus: ...

    async def cancel(self, spec: RunSpec) -> None: ...

    async def close(self) -> None:
        """Stops what only this process can watch (local runs); Kubernetes Jobs go on."""
        ...
