"""components/training on podman: the runner's Job as a pod, its output served."""

from __future__ import annotations

import copy
import subprocess
import time
from pathlib import Path

import yaml

from kubeplay.play import BASE_IMAGE, ROOT, Play, find, log, make_secrets, render, secret_value
from kubeplay.routes import TEXTS, call

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
    from mlapi.tools.synthetic import tiny_distilbert
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
