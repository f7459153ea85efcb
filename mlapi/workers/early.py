"""Worker processes started before the server boots, so that their imports overlap its own.

A worker's start is mostly imports (torch and transformers' model code). `mlapi serve`
starts the served model's workers first, each told what to import while it waits for its
model; the server then boots (its own imports, the port, the checks) in parallel, and
`WorkerProcess.start` adopts them instead of starting fresh ones. Only for the single model
of `MLAPI_MODEL_DIR` (a text classifier) whose runtime is known before it loads: a fixed
variant, or `auto` with a stored trial. Restarts start fresh workers as always.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass

from mlapi.settings import Settings
from mlapi.settings.per_model import per_worker
from mlapi.workers import isolation
from mlapi.workers.child_env import import_path, inherited

_started: list[subprocess.Popen[bytes]] = []


def child_env() -> dict[str, str]:
    """The allow-listed part of the server's environment (`mlapi.workers.child_env`) and its import
    path (tests add theirs): a worker gets its settings from the server, without the keys,
    passwords and DSNs among them (`mlapi.settings.per_model.for_worker`), and no variable
    brings them back."""
    return {**inherited(), **import_path()}


def preload_for(settings: Settings) -> list[str]:
    """`--preload` arguments of the served model's workers, or [] when not known yet."""
    model_dir = settings.model_dir
    if settings.models is not None or settings.workers == 0 or model_dir is None:
        return []
    if not (model_dir / "config.json").is_file():
        return []
    variant: str | None = settings.variant
    if variant == "auto":
        from mlapi.runtime.select import stored_variant

        variant = stored_variant(per_worker(settings), model_dir)  # as a worker stored it
    if variant is None:
        return []
    if variant.startswith("onnx-"):
        return ["onnxruntime"]
    config = json.loads((model_dir / "config.json").read_text())
    architectures = config.get("architectures") or []
    return ["torch", *(str(a) for a in architectures[:1])]


def start_early(settings: Settings) -> int:
    """Start the served model's workers; how many were started. First, whatever the settings,
    the server makes itself non-dumpable: no child of it reads its memory or environment."""
    isolation.protect_server()
    preload = preload_for(settings)
    if not preload or not hasattr(os, "pidfd_open"):  # Linux: how an adopted exit is seen
        return 0
    command = [sys.executable, "-m", "mlapi.workers.child", "--preload", *preload]
    env = child_env()
    for _ in range(settings.workers):
        _started.append(
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        )
    return len(_started)


def take() -> subprocess.Popen[bytes] | None:
    """A worker started early and still running, or None."""
    while _started:
        process = _started.pop(0)
        if process.poll() is None:
            return process
    return None


def stop_unused() -> None:
    """Workers started early that nobody adopted read the end of their input and exit."""
    while _started:
        process = _started.pop()
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Adopted:
    """A started `subprocess.Popen` with the interface of `asyncio.subprocess.Process`."""

    popen: subprocess.Popen[bytes]
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader
    _exited: asyncio.Event

    @classmethod
    async def adopt(cls, popen: subprocess.Popen[bytes]) -> Adopted:
        assert popen.stdin is not None and popen.stdout is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), popen.stdout)
        transport, proto = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), popen.stdin
        )
        writer = asyncio.StreamWriter(transport, proto, None, loop)
        exited = asyncio.Event()
        pidfd = os.pidfd_open(popen.pid)

        def on_exit() -> None:  # the pidfd turns readable once the process has ended
            loop.remove_reader(pidfd)
            os.close(pidfd)
            popen.wait()
            exited.set()

        loop.add_reader(pidfd, on_exit)
        return cls(popen, writer, reader, exited)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def send_signal(self, sig: int) -> None:
        if self.popen.returncode is None:
            self.popen.send_signal(sig)

    async def wait(self) -> int:
        await self._exited.wait()
        return self.popen.returncode if self.popen.returncode is not None else -1
