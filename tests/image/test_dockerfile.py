"""The Dockerfile lints clean and keeps the build context small."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]


def test_hadolint_reports_nothing_above_info() -> None:
    result = subprocess.run(
        [
            require_binary("hadolint"),
            "--failure-threshold",
            "info",
            "--no-color",
            str(ROOT / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_heavy_and_private_paths_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", "tests", "bench", "models", "reports", "*.onnx"} <= ignored


def test_runtime_is_the_default_target_and_carries_torch_unless_told_not_to() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)", dockerfile, flags=re.MULTILINE)
    assert stages[-1] == "runtime"
    runtime = dockerfile.split("AS runtime\n")[-1]
    assert "mlapi.tools.trial" in runtime and "USER 10001" in runtime
    serve_base = dockerfile.split("AS serve-base\n")[1].split("\nFROM ")[0]
    assert "HEALTHCHECK" in serve_base and "EXPOSE 8000" in serve_base
    # One switch, torch by default: the environment and the model's weights follow it.
    assert dockerfile.count("ARG WITH_TORCH=true") == 2
    deps = dockerfile.split("AS deps\n")[1].split("\nFROM ")[0]
    assert 'if [ "$WITH_TORCH" = true ]; then requirements=requirements/torch.txt' in deps
    kept = dockerfile.split("AS model-onnx\n")[1].split("\nFROM ")[0]
    assert 'if [ "$WITH_TORCH" != true ]; then' in kept and "*.safetensors" in kept


def _pins(name: str) -> dict[str, str]:
    lines = (ROOT / "requirements" / name).read_text().splitlines()
    pairs = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {package.lower(): version for package, version in pairs}


def test_the_torch_requirements_pin_every_serving_package_alike() -> None:
    serve, torch = _pins("serve.txt"), _pins("torch.txt")
    assert "torch" not in serve and torch["torch"].endswith("+cpu")
    assert {name: torch.get(name) for name in serve} == serve
