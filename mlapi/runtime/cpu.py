"""The instruction sets that decide which kernels ONNX Runtime, oneDNN and numpy take."""

from __future__ import annotations

import functools
from pathlib import Path

# numpy reads CPUID, so an emulated CPU (qemu-user) reports its own features, not the host's.
_NUMPY_NAMES = {
    "AVX2": "avx2",
    "AVX512F": "avx512f",
    "AVX512VNNI": "avx512_vnni",
    "AVX512BF16": "avx512_bf16",
}


def _proc_flags(path: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.cache
def cpu_flags() -> tuple[str, ...]:
    """Sorted flags among avx2, avx512f, avx512_vnni, avx_vnni, avx512_bf16, amx_int8, amx_bf16."""
    import numpy as np

    features: dict[str, bool] = np._core._multiarray_umath.__cpu_features__  # type: ignore[attr-defined]
    flags = {name for key, name in _NUMPY_NAMES.items() if features.get(key)}
    host = _proc_flags()
    if features.get("AVX_VNNI") or "avx_vnni" in host and "avx2" in flags:
        flags.add("avx_vnni")
    # AMX is not in numpy's table; trust /proc/cpuinfo only where CPUID shows a CPU of its era
    # (under emulation CPUID hides AVX-512 BF16, and AMX with it).
    if "avx512_bf16" in flags:
        flags |= {"amx_int8", "amx_bf16"} & host
    return tuple(sorted(flags))


def has_fast_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags()))
