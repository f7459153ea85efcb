"""One overlay on podman: render, secrets, images, the objects podman runs, probes."""

from __future__ import annotations

import base64
import copy
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MLAPI_IMAGE = "localhost/mlapi:image-test"
BASE_IMAGE = "localhost/mlapi-base:bookworm"
PLAYED = {"ConfigMap", "Deployment", "PersistentVolumeClaim"}
VOLUMES = {"PersistentVolumeClaim", "ConfigMap"}  # podman keeps a volume for each it mounted
# Every podman call of the play reads this file (CONTAINERS_CONF). runc, as scripts/image-test.sh
# uses: crun refuses pods on hosts that mount cgroups v1 or hybrid; runc runs on v1 and v2 alike.
CONTAINERS_CONF = (
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
    '\n[engine]\nruntime = "runc"\n'
)
REDIS_CONTAINERFILE = f"""FROM {BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \\
    --no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/* /etc/redis
ENTRYPOINT ["redis-server"]
"""
Doc = dict[str, Any]


def log(message: str) -> None:
    print(f"kube-play: {message}", flush=True)


def run(*args: str, stdin: str | None = None, check: bool = True) -> str:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])}... failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def render(overlay: str) -> list[Doc]:
    out = run("kubectl", "kustomize", str(ROOT / ".k8s" / "overlays" / overlay))
    return [doc for doc in yaml.safe_load_all(out) if doc]


def make_secrets(overlay: str, env: dict[str, str] | None = None) -> list[Doc]:
    """The Secrets exactly as the documented command makes them."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "make-secrets.sh"), overlay],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def secret_value(secrets: list[Doc], name: str, key: str) -> str:
    doc = next(d for d in secrets if d["metadata"]["name"] == name)
    return base64.b64decode(doc["data"][key]).decode()


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


class Play:
    """One overlay on podman: its secrets, images, pods; `close` removes all of it."""

    def __init__(
        self,
        overlay: str,
        workdir: Path,
        train_mount: Doc | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.overlay = overlay
        self.workdir = workdir
        self.docs = render(overlay)
        self.settings = settings or {}  # ConfigMap values changed on purpose (--fail-closed)
        self.train_mount = train_mount  # components/training's claim, volume and mount
        self.api_port = free_port()
        self.probe_port = free_port()  # MLAPI_PROBE_PORT: what the mlapi probes call
        self.redis_port = free_port()
        self.secret_names: list[str] = []
        self.kube_file = workdir / f"{overlay}.yaml"
        conf = workdir / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.probes: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.secret_files: list[str] = []  # ConfigMaps that stand in for Secret volumes

    def podman(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            ["podman", *args], input=stdin, capture_output=True, text=True, env=self.env
        )
        if check and result.returncode != 0:
            raise SystemExit(f"podman {' '.join(args[:3])} failed: {result.stderr.strip()}")
        return result.stdout

    # ----------------------------------------------------------------- images and secrets

    def redis_image(self) -> str:
        image: str = containers(find(self.docs, "Deployment", "mlapi-redis"))[0]["image"]
        if subprocess.run(["podman", "image", "exists", image], env=self.env).returncode != 0:
            (self.workdir / "Containerfile").write_text(REDIS_CONTAINERFILE)
            log(f"building {image} locally (Debian's redis-server on {BASE_IMAGE})")
            self.podman("build", "--isolation", "chroot", "-t", image, str(self.workdir))
        return image

    def create_secrets(self, secrets: list[Doc]) -> None:
        for doc in secrets:
            name = doc["metadata"]["name"]
            self.secrets[name] = {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}
            self.podman("secret", "rm", name, check=False)
            # podman 4 reads a kube Secret's `data` as JSON (base64 values, as in the YAML).
            self.podman("secret", "create", name, "-", stdin=json.dumps(doc["data"]))
            self.secret_names.append(name)

    # ------------------------------------------------------------------------ the play

    def playable(self) -> list[Doc]:
        """What podman runs: the bundle's objects, with image names and ports changed."""
        played = [copy.deepcopy(d) for d in self.docs if d["kind"] in PLAYED]
        settings = find(played, "ConfigMap", "mlapi")["data"]
        settings.update(self.settings)
        # The Redis Service's address on the host network (podman 4 ignores hostAliases there).
        settings["MLAPI_REDIS_URL"] = settings["MLAPI_REDIS_URL"].replace(
            "@mlapi-redis:6379/", f"@127.0.0.1:{self.redis_port}/"
        )
        for deployment in (d for d in played if d["kind"] == "Deployment"):
            # One pod per Deployment: on the host network a second replica would bind the same
            # ports and crash-loop, each restart a CPU-second of imports taken from the pod
            # under test (scaleout.py starts one more pod on ports of its own).
            deployment["spec"]["replicas"] = 1
            pod = deployment["spec"]["template"]["spec"]
            for container in pod["containers"]:
                name = deployment["metadata"]["name"]
                port = self.api_port if name == "mlapi" else self.redis_port
                # The probes are run from outside with their own periods and thresholds
                # (podman 4 has no readiness or startup probes).
                self.probes[name] = {
                    key: container.pop(key)
                    for key in ("startupProbe", "readinessProbe", "livenessProbe")
                    if key in container
                }
                container["imagePullPolicy"] = "Never"
                container.pop("ports", None)  # no port mappings on the host network
                if name == "mlapi" and self.train_mount:
                    pod.setdefault("volumes", []).append(self.train_mount["volume"])
                    container["volumeMounts"].append(self.train_mount["mount"])
                    container.setdefault("env", []).append(
                        {"name": "MLAPI_TRAIN_DIR", "value": self.train_mount["train_dir"]}
                    )
                if name == "mlapi":
                    container["image"] = MLAPI_IMAGE
                    container.setdefault("env", []).extend(
                        [
                            {"name": "MLAPI_PORT", "value": str(port)},
                            {"name": "MLAPI_PROBE_PORT", "value": str(self.probe_port)},
                            {"name": "MLAPI_HOST", "value": "127.0.0.1"},
                        ]
                    )
                else:
                    container["args"] = [
                        *self.expand(container, container["args"]),
                        "--port",
                        str(port),
                    ]
                    container["args"] += ["--bind", "127.0.0.1"]
        pods = [d["spec"]["template"]["spec"] for d in played if d["kind"] == "Deployment"]
        for pod in pods:
            played += self.secret_volumes(pod)
        return played

    def secret_volumes(self, pod: Doc) -> list[Doc]:
        """Secret volumes as ConfigMap volumes with the Secret's values: podman 4.3 panics on a
        Secret volume (kube play, VolumeFromSecret). The files and their paths are the same."""
        out = []
        for volume in pod.get("volumes", []):
            if "secret" not in volume:
                continue
            name = volume.pop("secret")["secretName"]
            played = f"{name}-secret-volume"
            volume["configMap"] = {"name": played}
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": played},
                    "data": dict(self.secrets[name]),
                }
            )
            self.secret_files.append(played)
        return out

    def expand(self, container: Doc, args: list[str]) -> list[str]:
        """`$(VAR)` in args, from the container's env, as the kubelet does (podman 4 does not)."""
        values = {}
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["key"] in self.secrets.get(ref["name"], {}):
                values[env["name"]] = self.secrets[ref["name"]][ref["key"]]
            elif "value" in env:
                values[env["name"]] = env["value"]
        out = []
        for arg in args:
            for name, value in values.items():
                arg = arg.replace(f"$({name})", value)
            out.append(arg)
        return out

    def up(self, secrets: list[Doc]) -> None:
        if subprocess.run(["podman", "image", "exists", MLAPI_IMAGE], env=self.env).returncode:
            raise SystemExit(f"kube-play: no {MLAPI_IMAGE}: run `make image-test` first")
        self.redis_image()
        self.create_secrets(secrets)  # before playable(): it expands $(VAR) from them
        self.kube_file.write_text(yaml.safe_dump_all(self.playable()))
        log(f"{self.overlay}: podman kube play --network host (mlapi :{self.api_port})")
        self.podman("kube", "play", "--replace", "--network", "host", str(self.kube_file))

    def close(self) -> None:
        if self.kube_file.exists():
            self.podman("kube", "down", str(self.kube_file), check=False)
        for deployment in (d for d in self.docs if d["kind"] == "Deployment"):
            name = deployment["metadata"]["name"]  # a play that failed half-way
            self.podman("pod", "rm", "-f", "-t", "5", f"{name}-pod-0", check=False)
        for name in self.secret_names:
            self.podman("secret", "rm", name, check=False)
        # podman keeps a volume per claim and per ConfigMap it mounted: those of this play.
        names = [
            *(d["metadata"]["name"] for d in self.docs if d["kind"] in VOLUMES),
            *self.secret_files,
        ]
        volumes = self.podman("volume", "ls", "--format", "{{.Name}}").split()
        for name in (n for n in names if n in volumes):
            self.podman("volume", "rm", "-f", name, check=False)

    def container(self, deployment: str) -> str:
        """podman's name for the first container of a Deployment's pod."""
        first = containers(find(self.docs, "Deployment", deployment))[0]["name"]
        names = self.podman("ps", "-a", "--format", "{{.Names}}").split()
        return next(
            (n for n in names if n.startswith(f"{deployment}-pod") and n.endswith("-" + first)),
            f"{deployment}-pod-0-{first}",
        )

    def logs(self, deployment: str) -> str:
        result = subprocess.run(
            ["podman", "logs", self.container(deployment)],
            capture_output=True,
            text=True,
            env=self.env,
        )
        return result.stdout + result.stderr

    def restarts(self, deployment: str) -> int:
        out = self.podman(
            "inspect", self.container(deployment), "--format", "{{.RestartCount}}", check=False
        )
        return int(out.strip() or 0)

    # ------------------------------------------------------------------------ probes

    def probe(self, deployment: str, kind: str) -> bool:
        spec = self.probes[deployment][kind]
        port = self.probe_port if deployment == "mlapi" else self.redis_port
        timeout = spec.get("timeoutSeconds", 1)
        if "tcpSocket" in spec:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
                return True
            except OSError:
                return False
        url = f"http://127.0.0.1:{port}{spec['httpGet']['path']}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                status: int = answer.status
                return 200 <= status < 400
        except (OSError, urllib.error.URLError):
            return False

    def wait_ready(self, deployment: str) -> float:
        """Seconds until ready, judged as the kubelet would: startupProbe, then readiness."""
        probes = self.probes[deployment]
        started = time.monotonic()
        if "startupProbe" in probes:
            spec = probes["startupProbe"]
            for _ in range(spec.get("failureThreshold", 3)):
                if self.probe(deployment, "startupProbe"):
                    break
                time.sleep(spec.get("periodSeconds", 10))
            else:
                raise NotReady(deployment, self)
        spec = probes["readinessProbe"]
        needed, failures = spec.get("successThreshold", 1), 0
        while needed:
            if self.probe(deployment, "readinessProbe"):
                needed -= 1
            else:
                failures += 1
                if failures > 30:
                    raise NotReady(deployment, self)
            if needed:
                time.sleep(spec.get("periodSeconds", 10))
        return time.monotonic() - started


def containers(deployment: Doc) -> list[Doc]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


class NotReady(SystemExit):
    def __init__(self, deployment: str, play: Play) -> None:
        super().__init__(f"{deployment} never became ready:\n{play.logs(deployment)[-3000:]}")
