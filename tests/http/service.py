"""The small mlapi the HTTP tests attack: the model in the server process, one thread."""

from __future__ import annotations

from pathlib import Path

from harness.servers import MlapiProcess

LIGHT = {
    "MLAPI_VARIANT": "onnx-fp32",
    "MLAPI_THREADS": "1",
    "MLAPI_WORKERS": "0",
    "MLAPI_API_KEYS": "user-key",
    "MLAPI_ACCESS_LOG": "false",
}


def light_service(model_dir: Path, log_dir: Path, **env: str) -> MlapiProcess:
    """`model_dir`'s onnx-fp32 served in the server process on one thread, API key `user-key`,
    no access log; `env` on top. Use it as a context manager: started, then stopped."""
    return MlapiProcess({"MLAPI_MODEL_DIR": str(model_dir), **LIGHT, **env}, log_dir / "mlapi.log")
