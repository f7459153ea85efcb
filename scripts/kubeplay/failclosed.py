"""Prod fails closed: no key Secret, an empty one, a bad setting."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from kubeplay.play import Doc, Play, log, make_secrets


def never_ready(play: Play, secrets: list[Doc], named: str) -> None:
    """The mlapi pod stays unready, is restarted, and its log names the setting."""
    try:
        play.up(secrets)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and play.restarts("mlapi") < 1:
            if play.probe("mlapi", "readinessProbe"):
                raise SystemExit(f"kube-play: ready despite a bad {named}")
            time.sleep(0.5)
        lines = [line for line in play.logs("mlapi").splitlines() if named in line]
        if play.restarts("mlapi") < 1 or not lines or play.probe("mlapi", "readinessProbe"):
            raise SystemExit(f"kube-play: no exit naming {named}: {play.logs('mlapi')[-2000:]}")
        log(f"bad {named}: not ready, restarted, says: {lines[0]}")
    finally:
        play.close()


def fail_closed(overlay: str, workdir: Path) -> None:
    """An empty API key Secret, or a bad ConfigMap value: the pod never becomes ready and its
    log says why. No API key Secret at all: the pod is not even created."""
    secrets = make_secrets(overlay, {"MLAPI_API_KEYS": " "})
    never_ready(Play(overlay, workdir / "empty-keys"), secrets, "MLAPI_API_KEYS")
    bad = Play(overlay, workdir / "bad-setting", settings={"MLAPI_MAX_BATCH_SIZE": "lots"})
    never_ready(bad, make_secrets(overlay), "MLAPI_MAX_BATCH_SIZE")
    play = Play(overlay, workdir / "no-keys")
    try:
        secrets = [s for s in make_secrets(overlay) if s["metadata"]["name"] != "mlapi-api-keys"]
        play.redis_image()
        play.create_secrets(secrets)
        play.kube_file.write_text(yaml.safe_dump_all(play.playable()))
        result = subprocess.run(
            ["podman", "kube", "play", "--network", "host", str(play.kube_file)],
            capture_output=True,
            text=True,
            env=play.env,
        )
        if result.returncode == 0 or "mlapi-api-keys" not in result.stderr:
            raise SystemExit(f"kube-play: played without the API key Secret: {result.stderr}")
        log(f"no API key Secret: not created ({result.stderr.strip().splitlines()[-1]})")
    finally:
        play.close()
