"""A model worker: `python -m mlapi.workers.child`, started by `WorkerProcess` only.

Reads frames on stdin, answers on stdout (the protocol's own descriptors: anything the model
prints goes to stderr). Signals meant for the server (SIGINT, SIGTERM) are ignored: the server
drains, then says stop; if the server dies, stdin ends and the worker exits with it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from typing import BinaryIO

from mlapi.kinds.base import ModelKind, Servable
from mlapi.observability.logs import configure_logging
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from mlapi.workers import protocol, state

logger = logging.getLogger("mlapi.worker")


def _own_pipes() -> tuple[BinaryIO, BinaryIO]:
    """Move the protocol off fds 0/1, so stray prints cannot corrupt a frame."""
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return inbox, outbox


def serve(inbox: BinaryIO, outbox: BinaryIO) -> int:
    init = protocol.read(inbox)
    if init is None or init[0] != "init":
        return 2
    spec, kind, settings = init[1], init[2], init[3]
    assert isinstance(spec, ModelVersion) and isinstance(kind, ModelKind)
    assert isinstance(settings, Settings)
    configure_logging(settings.log_level)
    try:
        servable: Servable = kind.load(spec, settings)
        described = state.dump(servable)  # data only: the server unpickles nothing of ours
    except Exception as exc:  # the server reports it as a failed load
        protocol.write(outbox, protocol.failed(f"{type(exc).__name__}: {exc}"))
        return 1
    protocol.write(outbox, protocol.ready(os.getpid(), described))
    while (message := protocol.read(inbox)) is not None:
        if message[0] == "stop":
            break
        _, batch_id, keys, tokens = message
        try:
            rows = servable.run(keys) if tokens is None else servable.run_tokens(keys, tokens)
        except Exception as exc:  # a failed batch: its requests fail, the worker lives on
            logger.error("batch failed: %s", "".join(traceback.format_exception(exc)))
            protocol.write(outbox, protocol.error(batch_id, f"{type(exc).__name__}: {exc}"))
        else:
            protocol.write(outbox, protocol.done(batch_id, rows))
    servable.close()
    return 0


def preload(names: list[str]) -> None:
    """Import a runtime before the model is known (`--preload torch [ARCHITECTURE]` or
    `--preload onnxruntime`, from `mlapi.workers.early`): a worker started before the server
    boots does its imports meanwhile."""
    if names[:1] == ["torch"]:
        import transformers

        import mlapi.runtime.torch_backend  # noqa: F401 - torch, and the unpadded forward

        # transformers imports a class's code on first use: the auto class, the model's own
        for name in ("AutoModelForSequenceClassification", "AutoTokenizer", *names[1:]):
            getattr(transformers, name, None)
    elif names[:1] == ["onnxruntime"]:
        import onnxruntime  # noqa: F401

        import mlapi.runtime.onnx_backend  # noqa: F401


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    inbox, outbox = _own_pipes()  # first: an import that prints must not write into a frame
    if sys.argv[1:2] == ["--preload"]:
        preload(sys.argv[2:])
    try:
        return serve(inbox, outbox)
    except BrokenPipeError:  # the server is gone
        return 0


if __name__ == "__main__":
    sys.exit(main())
