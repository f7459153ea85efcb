"""The bundle's Redis as a real process: the rendered pod's volumes become folders, its command
and arguments run as the kubelet would run them (start.sh writes the ACL file, then execs
redis-server), with only the port and address added."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import redis
from pydantic import SecretStr

from harness.servers import free_port, wait_for_port
from mlapi.settings import Settings
from mlapi.training.schemas import JobRecord, TrainRequest
from tests.binaries import require_binary
from tests.k8s.conftest import find

Docs = list[dict[str, Any]]
PASSWORD = "acl-test-password"


class NotStarted(RuntimeError):
    def __init__(self, code: int, log: str) -> None:
        super().__init__(f"the bundle's Redis exited {code}: {log[-2000:]}")
        self.code = code
        self.log = log


class BundleRedis:
    def __init__(
        self, process: subprocess.Popen[bytes], argv: list[str], url: str, pod: Path
    ) -> None:
        self.process = process
        self.argv = argv  # what it was started with
        self.port = int(argv[argv.index("--port") + 1])
        self.url = url
        self.pod = pod  # the pod's volumes, one folder each

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def redis_pod(docs: Docs) -> dict[str, Any]:
    spec: dict[str, Any] = find(docs, "Deployment", "mlapi-redis")["spec"]["template"]["spec"]
    return spec


def mount_pod(docs: Docs, pod_dir: Path, password: str) -> dict[str, Path]:
    """Each volume of the Redis pod as a folder of `pod_dir` (kept when it exists: the claim of
    a new pod), ConfigMap and Secret files written in; mountPath -> folder."""
    pod = redis_pod(docs)
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in pod["containers"][0]["volumeMounts"]:
        volume = volumes[mount["name"]]
        folder = pod_dir / mount["name"]
        folder.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            for key, text in find(docs, "ConfigMap", volume["configMap"]["name"])["data"].items():
                (folder / key).write_text(text)
        elif "secret" in volume:
            assert volume["secret"]["secretName"] == "mlapi-redis"
            (folder / "password").write_text(password)
        elif "emptyDir" in volume:  # a new pod gets a new, empty one
            shutil.rmtree(folder)
            folder.mkdir()
        mounts[mount["mountPath"]] = folder
    return mounts


def relocate(text: str, mounts: dict[str, Path]) -> str:
    for path in sorted(mounts, key=len, reverse=True):
        text = re.sub(rf"{re.escape(path)}(?=/|\s|$)", str(mounts[path]), text)
    return text


def start_bundle_redis(
    docs: Docs, pod_dir: Path, *extra: str, password: str = PASSWORD
) -> BundleRedis:
    mounts = mount_pod(docs, pod_dir, password)
    for folder in mounts.values():
        for path in (p for p in folder.iterdir() if p.suffix in {".conf", ".sh", ".acl"}):
            path.write_text(relocate(path.read_text(), mounts))
    container = redis_pod(docs)["containers"][0]
    argv = [relocate(a, mounts) for a in container["command"] + container["args"]]
    port = free_port()
    server = Path(require_binary("redis-server"))
    env = {"PATH": f"{server.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    log = pod_dir / "redis.log"
    argv += ["--port", str(port), "--bind", "127.0.0.1", *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            wait_for_port(port, timeout=0.5)
            break
        except TimeoutError:
            continue
    else:
        process.kill()
        code = process.wait()
        raise NotStarted(code, log.read_text())
    url = find(docs, "ConfigMap", "mlapi")["data"]["MLAPI_REDIS_URL"]
    return BundleRedis(process, argv, url.replace("mlapi-redis:6379", f"127.0.0.1:{port}"), pod_dir)


def settings_for(server: BundleRedis, workdir: Path) -> Settings:
    """The bundle's Redis settings, with a signing key as in prod."""
    return Settings(
        redis_url=server.url,
        redis_password=SecretStr(PASSWORD),
        redis_signing_key=SecretStr("s" * 32),
        cache_size=0,
        train_dir=workdir / "train",
    )


def job(job_id: str, state: str = "running") -> JobRecord:
    now = time.time()
    return JobRecord(
        id=job_id,
        state=state,
        runner="kubernetes",
        model="m",
        request=TrainRequest(model="m", base_model="/base", dataset="/data.tsv"),
        owner="replica-a",
        output_path=f"/work/train/{job_id}/model",
        created_at=now,
        updated_at=now,
    )
