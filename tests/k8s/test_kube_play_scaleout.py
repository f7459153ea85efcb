"""The scale-out pod of `make kube-play` is the played mlapi Deployment under another name and
on its own ports, and its start-up budget is the bundle's startup probe's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubeplay.play import Play
from kubeplay.scaleout import SUFFIX, ScaleOut, _started_at, budget_s

from tests.k8s.conftest import OVERLAYS, find

Docs = dict[str, list[dict[str, Any]]]

PORTS = {"MLAPI_PORT", "MLAPI_PROBE_PORT"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_new_pod_is_the_played_deployment(overlay: str, tmp_path: Path) -> None:
    play = Play(overlay, tmp_path)
    play.secrets = {"mlapi-redis": {"password": "pw"}, "mlapi-signing": {"signing-key": "sk"}}
    played = play.playable()
    play.kube_file.write_text(yaml.safe_dump_all(played))
    pod = ScaleOut(play)
    docs = pod.documents()
    new = find(docs, "Deployment", f"mlapi{SUFFIX}")
    old = find(played, "Deployment", "mlapi")
    spec, was = new["spec"]["template"]["spec"], old["spec"]["template"]["spec"]
    [container], [before] = spec["containers"], was["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MLAPI_PORT"] == str(pod.api_port) != str(play.api_port)
    assert env["MLAPI_PROBE_PORT"] == str(pod.probe_port) != str(play.probe_port)
    assert [e for e in container["env"] if e["name"] not in PORTS] == [
        e for e in before["env"] if e["name"] not in PORTS
    ]
    for key in set(before) - {"env", "envFrom"}:
        assert container[key] == before[key], key
    # Copies of the ConfigMaps it reads, under the new names it reads them by.
    names = [s["configMapRef"]["name"] for s in container["envFrom"]]
    names += [v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v]
    assert names and all(n.endswith(SUFFIX) for n in names)
    assert sorted(pod.volumes) == sorted(set(names))
    for name in names:
        assert (
            find(docs, "ConfigMap", name)["data"]
            == (find(played, "ConfigMap", name.removesuffix(SUFFIX))["data"])
        )
    assert {k: v for k, v in spec.items() if k not in {"containers", "volumes"}} == {
        k: v for k, v in was.items() if k not in {"containers", "volumes"}
    }


def test_the_budget_is_the_bundles_startup_probe(rendered: Docs) -> None:
    deployment = find(rendered["prod"], "Deployment", "mlapi")
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert probe["periodSeconds"] == 1  # a ready pod joins the Service within a second
    assert budget_s(probe) >= 30  # a trial-less start on a CPU the build did not see


def test_podmans_start_time_is_read_to_the_nanosecond() -> None:
    at = _started_at("2026-12-06 12:54:51.376082937 +0000 UTC")
    assert at == pytest.approx(1796561691.376083, abs=1e-6)
    assert _started_at("2026-12-06 12:54:51 +0000 UTC") == pytest.approx(1796561691.0)
