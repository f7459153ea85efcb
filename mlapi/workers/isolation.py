"""The server keeps its memory to itself: a model worker runs as the same user, so without this
it could read `/proc/<server>/environ` (every key, the signing key included) or attach to the
server with ptrace.

`protect_server` marks the server process not dumpable (`prctl(PR_SET_DUMPABLE, 0)`): its
`/proc/<pid>/` files (`environ`, `mem`, `maps`, ...) then belong to root, and only a process
with `CAP_SYS_PTRACE` reads them or attaches. The flag is not inherited across `exec`, so
workers, which run `python -m mlapi.workers.child`, are ordinary processes. The server calls it
at start, and again before it starts any worker (idempotent). Linux only; elsewhere, a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger("mlapi.workers")
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _prctl(option: int, value: int = 0) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    result: int = libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)
    if result < 0:
        raise OSError(ctypes.get_errno(), "prctl failed")
    return result


def dumpable() -> bool | None:
    """Whether this process is dumpable; None where it cannot be known (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    return _prctl(PR_GET_DUMPABLE) != 0


def protect_server() -> bool:
    """Make this process not dumpable; whether it is now protected."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        if _prctl(PR_GET_DUMPABLE) != 0:
            _prctl(PR_SET_DUMPABLE, 0)
    except OSError as exc:  # a seccomp profile that forbids prctl: say so, serve anyway
        logger.warning("could not make the server non-dumpable: %s", exc)
        return False
    return True
