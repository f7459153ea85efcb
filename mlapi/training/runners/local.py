"""`python -m trainer` as a child process of the service, with its own CPU budget.

The child gets `--threads` (and the OMP/MKL thread variables) and a higher nice value, so the
serving threads win the CPU whenever they want it; the job service runs one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from mlapi.training.progress import read_progress
from mlapi.training.runners.base import RunSpec, RunStatus
from mlapi.workers.child_env import import_path, inherited

logger = logging.getLogger("mlapi.training")
LOG = "trainer.log"


@dataclass
class _Run:
    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)


def log_tail(spec: RunSpec, lines: int = 5) -> str:
    try:
        text = (spec.workdir / LOG).read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# The server's thread pinning: the niced trainer would share the serving threads' cores.
PINNING = frozenset(
    {"KMP_AFFINITY", "GOMP_CPU_AFFINITY", "OMP_PLACES", "OMP_PROC_BIND", "KMP_HW_SUBSET"}
)


def child_env(threads: str) -> dict[str, str]:
    """The allow-listed environment (`mlapi.workers.child_env`) without the server's thread pinning,
    with the job's own thread budget."""
    return {
        **{k: v for k, v in inherited().items() if k not in PINNING},
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
        **import_path(),
    }


class LocalRunner:
    name = "local"
    adopts = False

    def __init__(
        self,
        *,
        threads: int = 1,
        nice: int = 10,
        timeout_s: float = 21_600,
        python: str = sys.executable,
        kill_grace_s: float = 5.0,
    ) -> None:
        self.threads = threads
        self.nice = nice
        self.timeout_s = timeout_s
        self.python = python
        self.kill_grace_s = kill_grace_s
        self._runs: dict[str, _Run] = {}

    async def start(self, spec: RunSpec) -> None:
        spec.workdir.mkdir(parents=True, exist_ok=True)
        threads = str(self.threads)
        env = child_env(threads)
        with (spec.workdir / LOG).open("wb") as log:  # the child keeps its own descriptor
            process = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "trainer",
                *spec.args,
                f"--threads={threads}",
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                env=env,
                cwd=spec.workdir,
                start_new_session=True,  # its own process group: a cancel stops all of it
            )
        with contextlib.suppress(OSError):
            own = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, process.pid, min(19, own + self.nice))
        self._runs[spec.job_id] = _Run(process)
        logger.info("trainer started", extra={"job": spec.job_id, "pid": process.pid})

    async def poll(self, spec: RunSpec) -> RunStatus:
        run = self._runs.get(spec.job_id)
        if run is None:
            return RunStatus("failed", "the trainer process is gone (mlapi restarted while it ran)")
        code = run.process.returncode
        if code is None:
            if time.monotonic() - run.started <= self.timeout_s:
                return RunStatus("running")
            await self._stop(run)
            del self._runs[spec.job_id]
            return RunStatus(
                "failed", f"ran longer than {self.timeout_s:g} s (MLAPI_TRAIN_TIMEOUT_S)"
            )
        del self._runs[spec.job_id]
        report = read_progress(spec.output)
        if code == 0 and report.get("state") == "succeeded":
            return RunStatus("succeeded")
        if code == 0:
            return RunStatus("failed", f"the trainer stopped early ({report.get('state')})")
        detail = report.get("error") or log_tail(spec) or "no output"
        return RunStatus("failed", f"trainer exited with status {code}: {detail}")

    async def cancel(self, spec: RunSpec) -> None:
        run = self._runs.pop(spec.job_id, None)
        if run is not None:
            await self._stop(run)

    async def _stop(self, run: _Run) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.process.pid, sig)
            try:
                await asyncio.wait_for(run.process.wait(), self.kill_grace_s)
                return
            except TimeoutError:
                continue

    async def close(self) -> None:
        for job_id in list(self._runs):
            await self._stop(self._runs.pop(job_id))
