"""One model worker process, seen from the server: start, one batch at a time, stop."""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import sys
import time
from typing import Any

from mlapi.errors import ModelFailure
from mlapi.kinds.base import ModelKind, Servable
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.settings.per_model import for_worker
from mlapi.workers import early, isolation, protocol, state

logger = logging.getLogger("mlapi.workers")
_batch_ids = itertools.count(1)


class WorkerDied(Exception):
    """The worker process ended (or was killed) while it held a batch."""


class WorkerStartFailed(Exception):
    """The worker could not load the model."""


class WorkerProcess:
    def __init__(self, index: int, spec: ModelVersion, kind: ModelKind, settings: Settings) -> None:
        self.index = index
        self.spec = spec
        self.kind = kind
        self.settings = for_worker(settings)
        self.state = "starting"
        self.pid: int | None = None
        self.batches = 0
        self.started_at = 0.0
        self.last_seen = 0.0
        self.exit_code: int | None = None
        self._proc: asyncio.subprocess.Process | early.Adopted | None = None
        self._pending: tuple[int, asyncio.Future[list[bytes]]] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()

    async def start(self) -> Servable:
        """Spawn the process and load the model; the servable comes back without its runtime."""
        self._exited.clear()
        self.state, self.exit_code = "starting", None
        isolation.protect_server()  # before any worker runs: it cannot read the server's memory
        started = early.take() if self.spec.name == "default" else None
        if started is not None:  # started before the server booted, importing its runtime
            self._proc = await early.Adopted.adopt(started)
        else:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "mlapi.workers.child",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=early.child_env(),
            )
        self.pid = self._proc.pid
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(protocol.pack(("init", self.spec, self.kind, self.settings)))
        await self._proc.stdin.drain()
        try:
            reply = await protocol.read_async(self._proc.stdout)
            servable = (
                state.restore(self.kind, reply.servable)
                if isinstance(reply, protocol.Ready)
                else None
            )
        except (protocol.ProtocolError, state.StateError) as exc:
            logger.error("worker %s sent a malformed reply; killing it: %s", self.pid, exc)
            self.kill()
            reply, servable = protocol.Failed(f"malformed reply from the worker: {exc}"), None
        if servable is None:
            await self._reap()
            reason = reply.message if isinstance(reply, protocol.Failed) else None
            self.state = "failed"
            raise WorkerStartFailed(reason or f"exited with {self.exit_code}")
        self.started_at = self.last_seen = time.time()
        self.state = "idle"
        self._reader = asyncio.create_task(self._read(), name=f"mlapi-worker-{self.index}")
        return servable

    @property
    def alive(self) -> bool:
        return self.state in ("idle", "busy")

    async def run(self, keys: list[str], tokens: list[list[int]] | None = None) -> list[bytes]:
        """One batch; `WorkerDied` if the process ends first, `ModelFailure` if the model raised."""
        proc = self._proc
        if proc is None or proc.stdin is None or not self.alive:
            raise WorkerDied(f"worker {self.index} is {self.state}")
        batch_id = next(_batch_ids)
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._pending = (batch_id, future)
        self.state = "busy"
        try:
            proc.stdin.write(protocol.pack(("run", batch_id, keys, tokens)))
            await proc.stdin.drain()
        except (ConnectionError, RuntimeError):
            pass  # the reader sees the end of the process and fails the future
        try:
            return await asyncio.wait_for(
                asyncio.shield(future), self.settings.worker_batch_timeout_s
            )
        except TimeoutError:
            logger.error("worker %s held a batch for too long; killing it", self.pid)
            self.kill()
            return await future
        finally:
            self._pending = None
            if self.state == "busy":
                self.state = "idle"

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            try:
                reply = await protocol.read_async(self._proc.stdout)
            except protocol.ProtocolError as exc:  # a failed worker: its batch fails with it
                logger.error("worker %s sent a malformed reply; killing it: %s", self.pid, exc)
                self.kill()
                continue  # until the end of its output
            if reply is None:
                break
            self.last_seen = time.time()
            pending = self._pending
            if not isinstance(reply, protocol.Done | protocol.BatchError):
                logger.error(
                    "worker %s sent %s while serving; killing it", self.pid, type(reply).__name__
                )
                self.kill()
                continue
            if pending is None or pending[0] != reply.batch or pending[1].done():
                continue
            self.batches += 1
            if isinstance(reply, protocol.Done):
                pending[1].set_result(reply.rows)
            else:
                pending[1].set_exception(ModelFailure(f"model error: {reply.message}"))
        await self._reap()
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].set_exception(
                WorkerDied(f"worker {self.pid} exited with {self.exit_code}")
            )

    async def _reap(self) -> None:
        if self._proc is not None:
            self.exit_code = await self._proc.wait()
        if self.state != "stopped":
            self.state = "dead"
        self._exited.set()

    async def exited(self) -> None:
        await self._exited.wait()

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish and exit; kill it if it does not."""
        proc = self._proc
        if proc is None:
            return
        self.state = "stopped"
        if proc.returncode is None and proc.stdin is not None:
            try:
                proc.stdin.write(protocol.pack(("stop",)))
                await proc.stdin.drain()
                proc.stdin.close()
            except (ConnectionError, RuntimeError):
                pass
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await proc.wait()
        if self._reader is not None:
            await self._reader

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.pid,
            "state": self.state,
            "model_version": self.spec.version,
            "batches": self.batches,
            "started_at": self.started_at or None,
            "last_seen": self.last_seen or None,
            "exit_code": self.exit_code,
        }
