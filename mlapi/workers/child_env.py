"""What a child process of the service (a model worker, a training job) inherits: an allow-list.

A child needs to find its programs and libraries and to tune its CPU libraries as the server's
are tuned; it needs no key, password or token. Only the names and prefixes below pass, so no
`MLAPI_*` setting (API and admin keys, the Redis URL and password, the signing key), no Sentry
DSN and no credential of anything else on the node (AWS_*, GOOGLE_*, HF_TOKEN, ...) reaches
one. What a child needs from the settings, it gets from the server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "VIRTUAL_ENV",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",  # an allocator (jemalloc, tcmalloc) preloaded for the server
        "GLIBC_TUNABLES",
        "XDG_CACHE_HOME",
        "LC_ALL",
        "LC_CTYPE",
        "LC_NUMERIC",
        "LC_TIME",
        "LC_COLLATE",
        "LC_MONETARY",
        "LC_MESSAGES",
        "PYTHONHOME",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "PYTHONWARNINGS",
        "PYTHONFAULTHANDLER",
        "PYTHONMALLOC",
        "PYTHONNOUSERSITE",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "HF_HUB_DISABLE_PROGRESS_BARS",
        "TRANSFORMERS_OFFLINE",
        "TRANSFORMERS_CACHE",
        "TRANSFORMERS_VERBOSITY",
        "TOKENIZERS_PARALLELISM",
        "TQDM_DISABLE",
    }
)

# The tuning of the CPU libraries (OpenMP, MKL, oneDNN, OpenBLAS, PyTorch) and the allocators.
PREFIXES = (
    "OMP_",
    "GOMP_",
    "KMP_",
    "MKL_",
    "ONEDNN_",
    "DNNL_",
    "OPENBLAS_",
    "ATEN_",
    "TORCH_",
    "PYTORCH_",
    "MALLOC_",  # glibc's MALLOC_ARENA_MAX ..., jemalloc's MALLOC_CONF
    "JE_MALLOC_",
    "TCMALLOC_",
)


def inherited(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of `environ` (default: this process's) that a child may see."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k in NAMES or k.startswith(PREFIXES)}


def import_path() -> dict[str, str]:
    """PYTHONPATH that makes a child import what this process imports (`mlapi`, `trainer`,
    and what tests add): the working folder and this process's `sys.path`."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys([os.getcwd(), *paths]))}
