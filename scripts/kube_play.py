"""Plays a rendered overlay on podman and exercises every public route through it.

    python scripts/kube_play.py dev|prod [--bench SECONDS] [--fail-closed] [--keep]

`kubectl kustomize` renders the overlay; `scripts/make-secrets.sh OVERLAY` makes its Secrets
(throwaway values), which become podman secrets. What a container runtime can run (the
Deployments, their ConfigMaps and PersistentVolumeClaims) is played with `podman kube play
--network host`, with the bundle's settings, user, read-only root and resource limits. Only
these change: the mlapi image becomes the one `make image-test` built, the Redis image a local
build tagged with the bundle's name (Debian's redis-server: no registry here), nothing is
pulled, and each pod listens on a free loopback port (the Redis URL names that port on
127.0.0.1 where cluster DNS would give the Service). Readiness is judged by the Deployment's own
startup and readiness probes, run from outside with their periods, timeouts and thresholds.
The kinds podman cannot run (Service, HPA, NetworkPolicy, Istio) are checked by tests/k8s/.

--fail-closed plays the overlay once more with an empty API key Secret and checks that the pod
never becomes ready and says why in one log line. --bench runs load.js with k6 (10 VUs, 95%
cache) against the played pod. Everything it starts it removes at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MLAPI_IMAGE = "localhost/mlapi:image-test"
BASE_IMAGE = "localhost/mlapi-base:bookworm"
PLAYED = {"ConfigMap", "Deployment", "PersistentVolumeClaim"}
CONTAINERS_CONF = '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
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
        self.redis_port = free_port()
        self.secret_names: list[str] = []
        self.kube_file = workdir / f"{overlay}.yaml"
        conf = workdir / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.probes: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}

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
        return played

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
        for doc in (d for d in self.docs if d["kind"] in {"PersistentVolumeClaim", "ConfigMap"}):
            name = doc["metadata"]["name"]
            if name in self.podman("volume", "ls", "--format", "{{.Name}}").split():
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
        port = self.api_port if deployment == "mlapi" else self.redis_port
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


# ---------------------------------------------------------------------------- the routes

TEXTS = {"text": ["I love you.", "I hate you."]}
V2_BODY = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["Hi."]}]}
# Every public route of the prod VirtualService, with a request and the status the app gives
# (tests/k8s/test_routes.py checks that this list covers the VirtualService). The bundle serves
# one text classifier: the embedding routes answer their typed 4xx, from the app itself.
PUBLIC: list[tuple[str, str, Any, int]] = [
    ("GET", "/health", None, 200),
    ("GET", "/ready", None, 200),
    ("GET", "/model", None, 200),
    ("GET", "/models", None, 200),
    ("GET", "/stats", None, 200),
    ("POST", "/predict", TEXTS, 200),
    ("POST", "/models/{name}/predict", TEXTS, 200),
    ("POST", "/embed", {"inputs": "Hi."}, 404),
    ("POST", "/v1/embeddings", {"model": "{name}", "input": "Hi."}, 422),
    ("GET", "/v2", None, 200),
    ("GET", "/v2/health/live", None, 200),
    ("GET", "/v2/health/ready", None, 200),
    ("GET", "/v2/models/{name}", None, 200),
    ("GET", "/v2/models/{name}/ready", None, 200),
    ("GET", "/v2/models/{name}/versions/{version}", None, 200),
    ("GET", "/v2/models/{name}/versions/{version}/ready", None, 200),
    ("POST", "/v2/models/{name}/infer", V2_BODY, 200),
    ("POST", "/v2/models/{name}/versions/{version}/infer", V2_BODY, 200),
]


def call(
    port: int, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


def exercise(play: Play, key: str | None) -> None:
    """Every public route, then what must stay closed; raises on the first surprise."""
    port = play.api_port
    models = yaml.safe_load(find(play.docs, "ConfigMap", "mlapi-models")["data"]["models.yaml"])
    _, body = call(port, "GET", "/models", key=key)
    served = {m["name"]: m["version"] for m in json.loads(body)["models"]}
    names = {"name": models["default"], "version": served[models["default"]]}
    failures = []
    for method, template, request, expected in PUBLIC:
        path, payload = template.format(**names), fill(request, names)
        status, answer = call(port, method, path, payload, key)
        mine = status == expected and (status == 200 or b'"error"' in answer)
        log(f"{method} {path} -> {status}" + ("" if mine else f" (expected {expected})"))
        if not mine:
            failures.append(f"{method} {path}: {status} {answer[:200]!r}")
    docs = (
        404 if find(play.docs, "ConfigMap", "mlapi")["data"].get("MLAPI_DOCS") == "false" else 200
    )
    closed: list[tuple[str, str, Any, str | None, int]] = [
        ("GET", "/docs", None, None, docs),
        ("GET", "/openapi.json", None, None, docs),
        ("POST", f"/models/{names['name']}/load", {}, key, 403),
        ("POST", "/train", {}, key, 403),
        ("POST", "/v2/repository/index", {}, key, 403),
    ]
    if key:
        closed.append(("POST", "/predict", TEXTS, None, 401))
    for method, path, payload, given, expected in closed:
        status, answer = call(port, method, path, payload, given)
        log(f"{method} {path} {'with' if given else 'without'} a key -> {status}")
        if status != expected:
            failures.append(f"{method} {path}: {status}, expected {expected}")
    _, stats = call(port, "GET", "/stats", key=key)
    redis = json.loads(stats)["models"][names["name"]]
    log(f"Redis tier: {redis['redis']}, {redis['cache']['redis']}")
    if redis["redis"] != "up" or not redis["cache"]["redis"]["misses"]:
        failures.append(f"the Redis tier is not in use as the ACL user: {redis}")
    if failures:
        raise SystemExit("kube-play: routes failed:\n  " + "\n  ".join(failures))


# ------------------------------------------------------------------ fail closed, bench


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


TRAINER_IMAGE = "localhost/mlapi-trainer:kube-play"


def dataset(rows: int = 48) -> str:
    good, bad = ["great", "lovely", "wonderful", "good"], ["awful", "terrible", "bad", "poor"]
    lines = ["sentence\tlabel"]
    for i in range(rows):
        words = good if i % 2 else bad
        lines.append(f"a {words[i % 4]} and {words[(i + 1) % 4]} day\t{i % 2}")
    return "\n".join(lines) + "\n"


def build_trainer_image(env: dict[str, str]) -> None:
    """The Dockerfile's `trainer` target on the image-test base, lending this machine's pip
    configuration as scripts/image-test.sh does; a local wheel folder supplies the CPU torch."""
    if subprocess.run(["podman", "image", "exists", TRAINER_IMAGE], env=env).returncode == 0:
        return
    args = ["--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--target", "trainer", "-t", TRAINER_IMAGE]
    for path in ("/etc/pip.conf", "/etc/ssl/certs/ca-certificates.crt", "/opt/wheels"):
        if Path(path).exists():
            args += ["-v", f"{path}:{path}:ro"]
    if Path("/opt/wheels").is_dir():
        args += ["--build-arg", "PIP_FIND_LINKS=/opt/wheels"]
        args += ["--build-arg", "TORCH_INDEX=https://pypi.org/simple"]
    log(f"building {TRAINER_IMAGE} (the Dockerfile's trainer target)")
    started = time.monotonic()
    result = subprocess.run(
        ["podman", "build", "--isolation", "chroot", *args, str(ROOT)],
        env=env,
        text=True,
        capture_output=True,
    )
    if result.returncode:
        tail = result.stdout[-3000:] + result.stderr[-2000:]
        raise SystemExit(f"kube-play: trainer build failed:\n{tail}")
    log(f"trainer image built in {time.monotonic() - started:.0f} s")


def play_training(workdir: Path) -> None:
    """components/training on podman: the Job mlapi's runner would create (from the component's
    template, as `render_job` renders it) runs as a pod with the trainer image on the claim, then
    a serving pod with the same claim mounted loads and serves what it wrote."""
    from mlapi.synthetic import tiny_distilbert
    from mlapi.training.runners.base import RunSpec
    from mlapi.training.runners.kubernetes import load_template, render_job
    from mlapi.training.schemas import Hyperparameters, TrainRequest
    from mlapi.training.service import trainer_args

    docs = render("prod-training")
    settings = find(docs, "ConfigMap", "mlapi-train")["data"]
    serving = find(docs, "Deployment", "mlapi")["spec"]["template"]["spec"]
    volume = next(v for v in serving["volumes"] if "persistentVolumeClaim" in v)
    mount = next(m for m in serving["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    train_dir = Path(settings["MLAPI_TRAIN_DIR"])
    template_doc = next(
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mlapi-trainer-job")
    )
    (workdir / "trainer-job.yaml").write_text(template_doc["data"]["trainer-job.yaml"])
    template = load_template(workdir / "trainer-job.yaml", train_dir)

    play = Play("dev", workdir, {"volume": volume, "mount": mount, "train_dir": str(train_dir)})
    claim = volume["persistentVolumeClaim"]["claimName"]
    trainer_file = workdir / "trainer-pod.yaml"
    try:
        build_trainer_image(play.env)
        play.podman("volume", "rm", "-f", claim, check=False)
        pvc = find(docs, "PersistentVolumeClaim", claim)
        (workdir / "pvc.yaml").write_text(yaml.safe_dump(pvc))
        play.podman("kube", "play", str(workdir / "pvc.yaml"))
        root = Path(play.podman("volume", "inspect", claim, "--format", "{{.Mountpoint}}").strip())
        job_id = "kubeplay1"
        base = Path(mount["mountPath"]) / "base"
        job_dir = train_dir / job_id
        on_host = root / job_dir.relative_to(mount["mountPath"])
        on_host.mkdir(parents=True)
        tiny_distilbert(root / base.relative_to(mount["mountPath"]))
        (on_host / "data.tsv").write_text(dataset())
        subprocess.run(["chown", "-R", "10001:10001", str(root)], check=True)

        request = TrainRequest(
            model="trained",
            base_model=str(base),
            dataset=str(job_dir / "data.tsv"),
            hyperparameters=Hyperparameters(
                max_steps=6, batch_size=8, eval_size=8, max_length=32, export_onnx=True
            ),
        )
        output = job_dir / "model"
        spec = RunSpec(job_id, trainer_args(request, output), job_dir, output)
        job = render_job(
            template,
            spec,
            image=settings["MLAPI_TRAIN_IMAGE"],
            backoff_limit=0,
            ttl_s=60,
            deadline_s=600,
        )
        pod_spec = copy.deepcopy(job["spec"]["template"]["spec"])
        for container in pod_spec["containers"]:
            container["image"] = TRAINER_IMAGE  # the bundle names the registry's trainer image
            container["imagePullPolicy"] = "Never"
        trainer = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": job["metadata"]["name"], "labels": job["metadata"]["labels"]},
            "spec": pod_spec,
        }
        trainer_file.write_text(yaml.safe_dump(trainer))
        log(f"trainer Job {job['metadata']['name']} as a pod: {' '.join(spec.args)}")
        started = time.monotonic()
        play.podman("kube", "play", "--network", "none", str(trainer_file))
        name = f"{job['metadata']['name']}-{pod_spec['containers'][0]['name']}"
        code = play.podman("wait", name).strip()
        logs = play.podman("logs", name, check=False)
        if (
            code != "0"
            or not (root / output.relative_to(mount["mountPath"]) / "config.json").exists()
        ):
            raise SystemExit(f"kube-play: the trainer exited {code}:\n{logs[-3000:]}")
        log(f"trainer: exit 0 in {time.monotonic() - started:.0f} s, wrote {output}")

        secrets = make_secrets("dev")
        admin = secret_value(secrets, "mlapi-admin-keys", "keys")
        play.up(secrets)
        for deployment in ("mlapi-redis", "mlapi"):
            log(f"{deployment} ready after {play.wait_ready(deployment):.1f} s (its probes)")
        status, answer = call(
            play.api_port, "POST", "/models/trained/load", {"path": str(output)}, admin
        )
        log(f"POST /models/trained/load {{path: {output}}} -> {status}")
        if status != 200:
            raise SystemExit(f"kube-play: the serving pod cannot load the output: {answer[:500]!r}")
        status, answer = call(play.api_port, "POST", "/models/trained/predict", TEXTS)
        log(f"POST /models/trained/predict -> {status} {answer[:160]!r}")
        if status != 200:
            raise SystemExit("kube-play: the trained model does not serve")
    finally:
        if trainer_file.exists():
            play.podman("kube", "down", str(trainer_file), check=False)
        play.close()
        play.podman("volume", "rm", "-f", claim, check=False)


def bench(play: Play, key: str | None, seconds: int, out: Path) -> dict[str, Any]:
    """load.js at 10 VUs, 95% cache, against the played pod."""
    import shutil

    k6 = shutil.which("k6") or str(ROOT / ".venv" / "bin" / "k6")
    summary = out / "k6-summary.json"
    env = {
        **os.environ,
        "K6_NO_USAGE_REPORT": "true",
        "BASE_URL": f"http://127.0.0.1:{play.api_port}",
        "VUS": "10",
        "CACHE_RATE": "0.95",
        "RAMP_UP": "5s",
        "HOLD": f"{seconds}s",
        "RAMP_DOWN": "1s",
        "API_KEY": key or "",
        "SUMMARY": str(summary),
    }
    log(f"k6 run load.js: 10 VUs, 95% cache, {seconds} s hold")
    result = subprocess.run([k6, "run", "--quiet", str(ROOT / "load.js")], env=env, text=True)
    metrics = json.loads(summary.read_text())["metrics"]
    predict = metrics["http_req_duration{name:predict}"]["values"]
    figures = {
        "k6_exit": result.returncode,
        "predict_p99_ms": round(predict["p(99)"], 2),
        "predict_p50_ms": round(predict["p(50)"], 2),
        "all_p99_ms": round(metrics["http_req_duration"]["values"]["p(99)"], 2),
        "req_per_s": round(metrics["http_reqs"]["values"]["rate"], 1),
        "failed_rate": metrics["http_req_failed"]["values"]["rate"],
    }
    (out / "kube-play-bench.json").write_text(json.dumps(figures, indent=2))
    log(f"bench: {figures}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "overlay", choices=sorted(p.name for p in (ROOT / ".k8s/overlays").iterdir())
    )
    parser.add_argument("--fail-closed", action="store_true", help="also play it without keys")
    parser.add_argument("--bench", type=int, default=0, metavar="SECONDS", help="k6 hold time")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "kube-play")
    parser.add_argument("--keep", action="store_true", help="leave the pods running")
    parser.add_argument(
        "--train", action="store_true", help="also play components/training's trainer Job"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kube-play-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        (workdir / "empty-keys").mkdir()
        (workdir / "no-keys").mkdir()
        (workdir / "bad-setting").mkdir()
        (workdir / "train").mkdir()
        play = Play(args.overlay, workdir)
        try:
            secrets = make_secrets(args.overlay)
            names = {s["metadata"]["name"] for s in secrets}
            key = (
                secret_value(secrets, "mlapi-api-keys", "keys")
                if "mlapi-api-keys" in names
                else None
            )
            play.up(secrets)
            for deployment in ("mlapi-redis", "mlapi"):
                log(f"{deployment} ready after {play.wait_ready(deployment):.1f} s (its probes)")
            exercise(play, key)
            if args.bench:
                bench(play, key, args.bench, args.out)
        finally:
            if not args.keep:
                play.close()
        if args.fail_closed:
            fail_closed(args.overlay, workdir)
        if args.train:
            play_training(workdir / "train")
    log(f"{args.overlay}: ok in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
