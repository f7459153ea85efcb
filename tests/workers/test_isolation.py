"""A model worker cannot read the server's memory: the server is not dumpable, so
`/proc/<server>/environ` (every key, the signing key included) is closed to its workers,
which run as the same user.

As in the pod, every process here runs as an ordinary user without CAP_SYS_PTRACE: run as root,
the tests switch to uid 65534, keeping only the capabilities to read and write files (the
interpreter may live under /root); root itself reads any process's memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.servers import MlapiProcess
from tests.binaries import require_binary

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _setpriv() -> None:
    """setpriv (util-linux) drops the tests' root: skipped locally without it, a failure
    under CI=true (`tests.binaries`)."""
    require_binary("setpriv")


FILE_CAPS = "+dac_override,+dac_read_search"
AS_A_USER = (
    [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        f"--inh-caps={FILE_CAPS}",
        f"--ambient-caps={FILE_CAPS}",
    ]
    if os.geteuid() == 0
    else []
)
SECRET = "s3cr3t-signing-key-for-the-test"
# A parent with the secret in its environment, and a child (as a worker is) reading the
# parent's environ; the parent protects itself first or not.
PARENT = """
import subprocess, sys
from mlapi.workers import isolation
if sys.argv[1] == "protect":
    assert isolation.protect_server() and isolation.dumpable() is False
child = "import os; print(open(f'/proc/{os.getppid()}/environ').read())"
sys.exit(subprocess.run([sys.executable, "-c", child]).returncode)
"""


def parent(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AS_A_USER, sys.executable, "-c", PARENT, mode],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.getcwd(), "MLAPI_REDIS_SIGNING_KEY": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_child_reads_an_unprotected_parent() -> None:
    """The control: without the protection, a child of the same user reads the secret."""
    done = parent("plain")
    assert done.returncode == 0, done.stderr
    assert SECRET in done.stdout


def test_a_child_cannot_read_a_protected_parent() -> None:
    done = parent("protect")
    assert done.returncode != 0
    assert "PermissionError" in done.stderr
    assert SECRET not in done.stdout + done.stderr


class UnprivilegedMlapi(MlapiProcess):
    def command(self) -> list[str]:
        return [*AS_A_USER, *super().command()]


def test_a_real_worker_cannot_read_the_servers_environ(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "models.yaml").write_text(
        f"default: spy\nmodels:\n  - name: spy\n    kind: snooping-classifier\n"
        f"    path: {model_dir}\n    settings: {{variant: onnx-fp32, workers: 1}}\n"
    )
    env = {
        "MLAPI_MODELS": str(tmp_path / "models.yaml"),
        "MLAPI_KIND_MODULES": "tests.workers.snooping",
        "MLAPI_REDIS_SIGNING_KEY": SECRET,
        "MLAPI_TRIAL_DIR": "",
        "MLAPI_THREADS": "1",
        "TMPDIR": str(tmp_path),
    }
    service = UnprivilegedMlapi(env, tmp_path / "mlapi.log")
    try:
        service.start()
        snooped = (tmp_path / "snooped.txt").read_text()
        answer = subprocess.run(  # the worker serves: the server is protected, not broken
            ["curl", "-sf", "-d", '{"text": ["a film"]}', f"{service.url}/predict"],
            capture_output=True,
            timeout=60,
        )
    finally:
        service.stop()
    assert snooped == "refused:PermissionError", snooped[:200]
    assert answer.returncode == 0 and b"score" in answer.stdout
