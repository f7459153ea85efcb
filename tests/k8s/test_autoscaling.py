"""The autoscaling components render over the prod overlay and validate: core objects against
Kubernetes 1.32 (strict), the ScaledObject against KEDA's CRD schema, every query with promtool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.binaries import require_binary
from tests.k8s.conftest import ROOT, find
from tests.k8s.test_validate import K8S_VERSION

Docs = list[dict[str, Any]]
COMPONENTS = ROOT / ".k8s" / "components"
KEDA_CRD = Path(__file__).resolve().parent / "crds" / "keda.sh_scaledobjects.yaml"


def render_with(component: str, tmp_path: Path) -> Docs:
    """prod with the component, as an overlay that includes it would render."""
    kubectl = require_binary("kubectl")
    overlay = tmp_path / component
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "mlapi",
        "resources": [os.path.relpath(ROOT / ".k8s" / "overlays" / "prod", overlay)],
        "components": [os.path.relpath(COMPONENTS / component, overlay)],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    out = subprocess.run(
        [kubectl, "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Docs:
    return render_with("autoscaling-prometheus-adapter", tmp_path_factory.mktemp("k"))


@pytest.fixture(scope="module")
def keda(tmp_path_factory: pytest.TempPathFactory) -> Docs:
    return render_with("autoscaling-keda", tmp_path_factory.mktemp("k"))


def crd_errors(doc: dict[str, Any]) -> list[str]:
    """Schema errors, and fields the schema does not know (the API server's strict field
    validation rejects them; a CRD's schema alone would silently prune them)."""
    crd = yaml.safe_load(KEDA_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == doc["apiVersion"][8:]]
    schema = version["schema"]["openAPIV3Schema"]
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]

    def unknown(value: Any, node: dict[str, Any], path: str) -> list[str]:
        if isinstance(value, list):
            return [p for v in value for p in unknown(v, node.get("items", {}), f"{path}[]")]
        if not isinstance(value, dict) or node.get("x-kubernetes-preserve-unknown-fields"):
            return []
        known = node.get("properties", {})
        if not known:  # a map (additionalProperties) or metadata: not described further
            return []
        return [
            p
            for key, v in value.items()
            for p in (
                [f"{path}.{key}"] if key not in known else unknown(v, known[key], path + "." + key)
            )
        ]

    return errors + unknown({k: v for k, v in doc.items() if k != "metadata"}, schema, "")


def promtool_check(tmp_path: Path, exprs: list[str]) -> None:
    promtool = require_binary("promtool")
    rules = {
        "groups": [
            {"name": "q", "rules": [{"record": f"q:{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and f"SUCCESS: {len(exprs)} rules found" in done.stdout, (
        done.stdout + done.stderr
    )


def test_adapter_component_validates_strictly(adapter: Docs) -> None:
    for doc in adapter:
        if "istio.io" not in doc["apiVersion"]:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    find(adapter, "ConfigMap", "mlapi-prometheus-adapter")


def test_adapter_hpa_scales_on_in_flight_with_cpu_kept(adapter: Docs) -> None:
    hpa = find(adapter, "HorizontalPodAutoscaler", "mlapi")
    pods, cpu = hpa["spec"]["metrics"]
    assert pods["type"] == "Pods" and pods["pods"]["metric"]["name"] == "mlapi_inflight_requests"
    assert pods["pods"]["target"] == {"type": "AverageValue", "averageValue": "2400m"}
    assert cpu["containerResource"]["container"] == "mlapi"
    assert cpu["containerResource"]["target"]["averageUtilization"] == 60
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 20)  # prod's bounds


def test_adapter_rule_serves_the_hpa_metric_with_a_valid_query(
    adapter: Docs, tmp_path: Path
) -> None:
    config = yaml.safe_load(
        find(adapter, "ConfigMap", "mlapi-prometheus-adapter")["data"]["config.yaml"]
    )
    (rule,) = config["rules"]
    assert rule["name"]["as"] == "mlapi_inflight_requests"
    assert rule["resources"]["overrides"] == {
        "namespace": {"resource": "namespace"},
        "pod": {"resource": "pod"},
    }
    query = rule["metricsQuery"]
    for template in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
        assert template in query
    concrete = query.replace("<<.Series>>", "mlapi_inflight_requests")
    concrete = concrete.replace("<<.LabelMatchers>>", 'namespace="mlapi",pod=~"a|b"')
    promtool_check(tmp_path, [concrete.replace("<<.GroupBy>>", "pod"), rule["seriesQuery"]])


def test_keda_component_replaces_the_hpa_with_a_scaledobject(keda: Docs) -> None:
    assert not [d for d in keda if d["kind"] == "HorizontalPodAutoscaler"]
    scaled = find(keda, "ScaledObject", "mlapi")
    assert scaled["metadata"]["namespace"] == "mlapi"
    for doc in keda:
        if doc["kind"] != "ScaledObject" and "istio.io" not in doc["apiVersion"]:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_scaledobject_matches_the_keda_crd(keda: Docs) -> None:
    assert crd_errors(find(keda, "ScaledObject", "mlapi")) == []


def test_crd_check_catches_typos_and_bad_types(keda: Docs) -> None:
    scaled = find(keda, "ScaledObject", "mlapi")
    typo = yaml.safe_load(yaml.safe_dump(scaled))
    typo["spec"]["minReplicaCont"] = 1
    assert crd_errors(typo) == [".spec.minReplicaCont"]
    wrong = yaml.safe_load(yaml.safe_dump(scaled))
    wrong["spec"]["triggers"][0]["metadata"]["threshold"] = 2.4  # metadata values are strings
    assert crd_errors(wrong)


def test_keda_follows_the_same_target_bounds_and_behaviour(
    keda: Docs, adapter: Docs, tmp_path: Path
) -> None:
    scaled = find(keda, "ScaledObject", "mlapi")["spec"]
    hpa = find(adapter, "HorizontalPodAutoscaler", "mlapi")["spec"]
    prometheus, cpu = scaled["triggers"]
    assert prometheus["type"] == "prometheus" and prometheus["metricType"] == "AverageValue"
    target = hpa["metrics"][0]["pods"]["target"]["averageValue"]
    assert float(prometheus["metadata"]["threshold"]) == float(target[:-1]) / 1000
    assert "mlapi_inflight_requests" in prometheus["metadata"]["query"]
    assert cpu == {
        "type": "cpu",
        "metricType": "Utilization",
        "metadata": {"value": "60", "containerName": "mlapi"},
    }
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (
        hpa["minReplicas"],
        hpa["maxReplicas"],
    )
    assert scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == hpa["behavior"]
    promtool_check(tmp_path, [prometheus["metadata"]["query"]])
