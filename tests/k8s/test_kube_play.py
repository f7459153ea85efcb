"""What `make kube-play` hands podman is the rendered bundle with only the image names, the
pull policy, the host-network port, the probes (run from outside) and one replica changed."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from kubeplay.play import MLAPI_IMAGE, Play
from kubeplay.training import dataset

from tests.k8s.conftest import OVERLAYS, ROOT, find

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
CHANGED = {"image", "imagePullPolicy", "ports", "env", "args", *PROBES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_play_keeps_the_bundles_settings(overlay: str, tmp_path: Path) -> None:
    play = Play(overlay, tmp_path)
    play.secrets = {"mlapi-redis": {"password": "pw"}, "mlapi-signing": {"signing-key": "sk"}}
    played = play.playable()
    kinds = {d["kind"] for d in played}
    assert kinds <= {"ConfigMap", "Deployment", "PersistentVolumeClaim"}
    # A Secret volume becomes a ConfigMap volume with the Secret's files (podman 4.3 panics on
    # Secret volumes); the rest of the pod is the bundle's.
    stand_ins = {
        d["metadata"]["name"]: d for d in played if d["metadata"]["name"] in play.secret_files
    }
    assert stand_ins == {
        "mlapi-redis-secret-volume": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "mlapi-redis-secret-volume"},
            "data": {"password": "pw"},
        }
    }
    for doc in (d for d in played if d["metadata"]["name"] not in stand_ins):
        original = find(play.docs, doc["kind"], doc["metadata"]["name"])
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "mlapi":
            url = doc["data"].pop("MLAPI_REDIS_URL")
            assert url == f"redis://mlapi@127.0.0.1:{play.redis_port}/0"
            original = {**original, "data": {**original["data"]}}
            original["data"].pop("MLAPI_REDIS_URL")
        if doc["kind"] != "Deployment":
            assert doc == original
            continue
        pod, before = doc["spec"]["template"]["spec"], original["spec"]["template"]["spec"]
        assert {k: v for k, v in pod.items() if k not in {"containers", "volumes"}} == {
            k: v for k, v in before.items() if k not in {"containers", "volumes"}
        }
        volumes = [
            {"name": v["name"], "configMap": {"name": f"{v['secret']['secretName']}-secret-volume"}}
            if "secret" in v
            else v
            for v in before["volumes"]
        ]
        assert pod["volumes"] == volumes
        assert {k: v for k, v in doc.items() if k != "spec"} == {
            k: v for k, v in original.items() if k != "spec"
        }
        # One pod per Deployment: a second would bind the same host ports and crash-loop.
        assert doc["spec"]["replicas"] == 1
        assert {k: v for k, v in doc["spec"].items() if k not in {"replicas", "template"}} == {
            k: v for k, v in original["spec"].items() if k not in {"replicas", "template"}
        }
        for container, was in zip(pod["containers"], before["containers"], strict=True):
            kept = {k: v for k, v in was.items() if k not in CHANGED}
            assert {k: v for k, v in container.items() if k not in CHANGED} == kept
            assert container["imagePullPolicy"] == "Never" and "ports" not in container
            assert not set(PROBES) & container.keys()
            assert set(play.probes[doc["metadata"]["name"]]) == set(PROBES) & was.keys()
            if doc["metadata"]["name"] == "mlapi":
                assert container["image"] == MLAPI_IMAGE
                assert container["env"] == [
                    *was["env"],
                    {"name": "MLAPI_PORT", "value": str(play.api_port)},
                    {"name": "MLAPI_PROBE_PORT", "value": str(play.probe_port)},
                    {"name": "MLAPI_HOST", "value": "127.0.0.1"},
                ]
            else:
                assert container["image"] == was["image"]  # built locally under that name
                expanded = [a.replace("$(REDIS_PASSWORD)", "pw") for a in was["args"]]
                assert container["args"] == [
                    *expanded,
                    *("--port", str(play.redis_port), "--bind", "127.0.0.1"),
                ]


def test_the_dataset_of_the_training_play_has_both_labels() -> None:
    rows = dataset().strip().splitlines()
    assert rows[0] == "sentence\tlabel"
    assert {row.rsplit("\t", 1)[1] for row in rows[1:]} == {"0", "1"}


def test_every_podman_call_of_the_play_runs_runc(tmp_path: Path) -> None:
    """runc on cgroup v1, hybrid and v2 hosts alike (crun refuses pods on v1 and hybrid), as
    scripts/image-test.sh runs its container: through the play's containers.conf, which every
    podman call of scripts/kubeplay reads from the environment it is given."""
    play = Play("dev", tmp_path)
    conf = tomllib.loads(Path(play.env["CONTAINERS_CONF"]).read_text())
    assert conf["engine"]["runtime"] == "runc"
    calls = []
    for source in sorted((ROOT / "scripts" / "kubeplay").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.List) and first.elts:
                head = first.elts[0]
                if isinstance(head, ast.Constant) and head.value == "podman":
                    calls.append((source.name, node.lineno, {k.arg for k in node.keywords}))
    assert calls, "no podman call found in scripts/kubeplay"
    assert [(name, line) for name, line, keywords in calls if "env" not in keywords] == []
    assert "podman --runtime runc run" in (ROOT / "scripts" / "image-test.sh").read_text()
