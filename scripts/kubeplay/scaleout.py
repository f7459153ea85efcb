"""A scale-out: one more pod of the played mlapi Deployment, timed from its start to ready.

The new pod is the played Deployment's own spec (same image, settings, user, read-only root,
limits) under another name and on its own loopback ports; its ConfigMaps are copies with the
same data (a played ConfigMap becomes a podman volume of its name). It is timed from its
container's start (podman's StartedAt) to its first `/ready` 200, polled from outside every
0.1 s, and to the first success of its startup probe run with the Deployment's own period. Its
`/model` card says whether the variant trial kept at build time was reused.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from kubeplay.play import Doc, Play, find, free_port, log

SUFFIX = "-scaleout"
POLL_S = 0.1


def _get(url: str, key: str | None = None, timeout: float = 1.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _started_at(text: str) -> float:
    """podman's `2026-12-06 12:54:51.376082937 +0000 UTC` as a Unix time."""
    day, clock, zone = text.split()[:3]
    whole, _, fraction = clock.partition(".")
    moment = datetime.strptime(f"{day} {whole} {zone}", "%Y-%m-%d %H:%M:%S %z")
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


class ScaleOut:
    """The new pod's kube file, built from the played one; `close` removes what it made."""

    def __init__(self, play: Play) -> None:
        self.play = play
        self.api_port = free_port()
        self.probe_port = free_port()
        self.kube_file = play.workdir / f"{play.overlay}{SUFFIX}.yaml"
        self.volumes: list[str] = []

    def documents(self) -> list[Doc]:
        played = [d for d in yaml.safe_load_all(self.play.kube_file.read_text()) if d]
        deployment = copy.deepcopy(find(played, "Deployment", "mlapi"))
        deployment["metadata"]["name"] += SUFFIX
        deployment["spec"]["replicas"] = 1
        pod = deployment["spec"]["template"]["spec"]
        renamed: set[str] = set()
        for container in pod["containers"]:
            for env in container.get("env", []):
                if env["name"] == "MLAPI_PORT":
                    env["value"] = str(self.api_port)
                elif env["name"] == "MLAPI_PROBE_PORT":
                    env["value"] = str(self.probe_port)
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    renamed.add(source["configMapRef"]["name"])
                    source["configMapRef"]["name"] += SUFFIX
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                renamed.add(volume["configMap"]["name"])
                volume["configMap"]["name"] += SUFFIX
        configmaps = []
        for doc in played:
            if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] in renamed:
                doc = copy.deepcopy(doc)
                doc["metadata"]["name"] += SUFFIX
                self.volumes.append(doc["metadata"]["name"])
                configmaps.append(doc)
        return [*configmaps, deployment]

    def container(self) -> str:
        name = f"mlapi{SUFFIX}-pod"
        found = self.play.podman("ps", "-a", "--format", "{{.Names}}").split()
        return next(n for n in found if n.startswith(name) and n.endswith("-mlapi"))

    def start(self) -> float:
        """Play the new pod; the Unix time podman started its container."""
        self.kube_file.write_text(yaml.safe_dump_all(self.documents()))
        self.play.podman("kube", "play", "--replace", "--network", "host", str(self.kube_file))
        out = self.play.podman("inspect", self.container(), "--format", "{{.State.StartedAt}}")
        return _started_at(out.strip())

    def logs(self) -> str:
        return self.play.podman("logs", self.container(), check=False)

    def close(self) -> None:
        if self.kube_file.exists():
            self.play.podman("kube", "down", str(self.kube_file), check=False)
        existing = self.play.podman("volume", "ls", "--format", "{{.Name}}").split()
        for name in (n for n in self.volumes if n in existing):
            self.play.podman("volume", "rm", "-f", name, check=False)


def _startup_probe(url: str, spec: dict[str, Any], found: dict[str, float]) -> None:
    """The kubelet's startup probe: every periodSeconds, up to failureThreshold tries."""
    time.sleep(spec.get("initialDelaySeconds", 0))
    for _ in range(spec.get("failureThreshold", 3)):
        status, _ = _get(url, timeout=spec.get("timeoutSeconds", 1))
        if 200 <= status < 400:
            found["probe"] = time.time()
            return
        time.sleep(spec.get("periodSeconds", 10))


def budget_s(spec: dict[str, Any]) -> float:
    """How long the startup probe lets a pod take before the kubelet restarts it."""
    return float(
        spec.get("initialDelaySeconds", 0)
        + spec.get("periodSeconds", 10) * spec.get("failureThreshold", 3)
    )


def scale_out(play: Play, key: str | None, out: Path) -> dict[str, Any]:
    """Start one more pod of the mlapi Deployment and time it to ready; the figures, also
    written to `out`. Fails when it is not ready within the startup probe's budget or did
    not reuse the trial kept at build time."""
    spec = play.probes["mlapi"]["startupProbe"]
    budget = budget_s(spec)
    pod = ScaleOut(play)
    try:
        started = pod.start()
        found: dict[str, float] = {}
        path = spec["httpGet"]["path"]
        prober = threading.Thread(
            target=_startup_probe,
            args=(f"http://127.0.0.1:{pod.probe_port}{path}", spec, found),
            daemon=True,
        )
        prober.start()
        deadline = time.monotonic() + budget + 5
        while time.monotonic() < deadline:
            if _get(f"http://127.0.0.1:{pod.api_port}/ready")[0] == 200:
                found["ready"] = time.time()
                break
            time.sleep(POLL_S)
        prober.join(timeout=max(0.0, deadline - time.monotonic()))
        if "ready" not in found:
            raise SystemExit(f"the new pod was not ready in {budget:.0f} s:\n{pod.logs()[-3000:]}")
        status, body = _get(f"http://127.0.0.1:{pod.api_port}/model", key, timeout=10)
        selection = (json.loads(body).get("selection") or {}) if status == 200 else {}
    finally:
        pod.close()
    figures = {
        "overlay": play.overlay,
        "ready_s": round(found["ready"] - started, 2),
        "startup_probe_s": round(found["probe"] - started, 2) if "probe" in found else None,
        "startup_probe_budget_s": budget,
        "poll_s": POLL_S,
        "variant": selection.get("variant"),
        "trial_reused": bool(selection.get("reused")),
        "trial_baked": bool(selection.get("baked")),
    }
    (out / f"new-pod-{play.overlay}.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / f"new-pod-{play.overlay}.md").write_text(markdown(figures))
    log(f"new pod: {figures}")
    if not (figures["trial_reused"] and figures["trial_baked"]):
        raise SystemExit(f"the new pod did not reuse the trial kept at build time: {selection}")
    if figures["startup_probe_s"] is None:
        raise SystemExit(f"the new pod's startup probe never passed in {budget:.0f} s")
    return figures


def markdown(figures: dict[str, Any]) -> str:
    return (
        f"# A new pod of the played `{figures['overlay']}` overlay\n\n"
        "| from its container start to | seconds |\n|---|---|\n"
        f"| `/ready` 200, polled every {figures['poll_s']} s | {figures['ready_s']} |\n"
        f"| its startup probe's first success | {figures['startup_probe_s']} |\n"
        f"| the startup probe's budget | {figures['startup_probe_budget_s']} |\n\n"
        f"Variant {figures['variant']}; trial kept at build time reused: "
        f"{figures['trial_baked']}.\n"
    )
