"""What the benchmark serves: mlapi variants, and the reference design as its own process."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.servers import MlapiProcess
from mlapi.runtime.variants import VARIANTS

REFERENCE = "reference"
IN_PROCESS = "-inprocess"  # suffix: the same configuration with MLAPI_WORKERS=0
CONFIGS = ["auto", *VARIANTS, REFERENCE, *(f"{v}{IN_PROCESS}" for v in ("auto", *VARIANTS))]


class ReferenceProcess(MlapiProcess):
    """`python -m bench.reference`: the seed's pipeline-behind-FastAPI design."""

    def __init__(self, model_dir: Path, redis_url: str, log_path: Path) -> None:
        super().__init__({}, log_path)
        self.model_dir = model_dir
        self.redis_url = redis_url

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.reference",
            str(self.model_dir),
            "--port",
            str(self.port),
            "--redis-url",
            self.redis_url,
        ]


def service_for(
    name: str, model_dir: Path, redis_url: str, workdir: Path, extra_env: dict[str, str]
) -> MlapiProcess:
    log = workdir / f"{name}.log"
    if name == REFERENCE:
        return ReferenceProcess(model_dir, redis_url, log)
    variant = name.removesuffix(IN_PROCESS)
    env = {
        "MLAPI_MODEL_DIR": str(model_dir),
        "MLAPI_REDIS_URL": redis_url,
        "MLAPI_VARIANT": variant,
        **({"MLAPI_WORKERS": "0"} if name.endswith(IN_PROCESS) else {}),
        "MLAPI_TRIAL_DIR": str(workdir / "trials"),  # every start runs its own trial
        **extra_env,
    }
    return MlapiProcess(env, log)
