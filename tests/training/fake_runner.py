"""A runner that implements the JobRunner interface with scripted outcomes and records calls."""

from __future__ import annotations

from mlapi.training.runners import RunSpec, RunStatus


class ScriptedRunner:
    """Every run reports `outcome` at each poll (a local process's view: no adoption)."""

    name = "local"
    adopts = False

    def __init__(self, outcome: RunStatus) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str]] = []
        self.started: list[RunSpec] = []

    async def start(self, spec: RunSpec) -> None:
        self.calls.append(("start", spec.job_id))
        self.started.append(spec)

    async def poll(self, spec: RunSpec) -> RunStatus:
        self.calls.append(("poll", spec.job_id))
        return self.outcome

    async def cancel(self, spec: RunSpec) -> None:
        self.calls.append(("cancel", spec.job_id))

    async def close(self) -> None:
        return None
