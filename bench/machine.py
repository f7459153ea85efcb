"""What the numbers were measured on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from mlapi.runtime.cpu import cpu_flags


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def describe() -> dict[str, object]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "cpu_flags": list(cpu_flags()),
        "commit": _commit(),
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "torch": _version("torch"),
    }


def save(out: Path, name: str, run: dict[str, Any], markdown: str | None = None) -> Path:
    """`run` as out/<name><stamp>.json (and the markdown beside it, as .md); the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{name}{time.strftime('%Y%m%d-%H%M%S')}"
    path = stem.with_suffix(".json")
    path.write_text(json.dumps(run, indent=2) + "\n")
    if markdown is not None:
        stem.with_suffix(".md").write_text(markdown)
    return path
