"""The HPA's CPU target and the pods it scales fit together."""

from __future__ import annotations

from typing import Any

import pytest

from tests.k8s.conftest import OVERLAYS, find

Docs = dict[str, list[dict[str, Any]]]


def cpus(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def mlapi_container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    deployment = find(docs, "Deployment", "mlapi")
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_target_is_a_share_of_the_containers_cpu_request(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    hpa = find(docs, "HorizontalPodAutoscaler", "mlapi")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "ContainerResource" and metric["containerResource"]["name"] == "cpu"
    container = mlapi_container(docs, metric["containerResource"]["container"])
    target = metric["containerResource"]["target"]
    assert target["type"] == "Utilization" and 0 < target["averageUtilization"] <= 80
    # Utilization is measured against the request: with request == limit, 100% is all the CPU
    # the container may use, and the target leaves the rest as headroom while a pod starts.
    resources = container["resources"]
    assert cpus(resources["requests"]["cpu"]) == cpus(resources["limits"]["cpu"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_model_threads_fit_the_cpu_limit(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    container = mlapi_container(docs, "mlapi")
    settings = dict(find(docs, "ConfigMap", "mlapi")["data"])
    settings |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    limit = cpus(container["resources"]["limits"]["cpu"])
    assert 1 <= int(settings["MLAPI_THREADS"]) <= limit


def test_scale_up_can_double_within_a_minute(rendered: Docs) -> None:
    hpa = find(rendered["prod"], "HorizontalPodAutoscaler", "mlapi")
    up = hpa["spec"]["behavior"]["scaleUp"]
    assert up["stabilizationWindowSeconds"] <= 60 and up["selectPolicy"] == "Max"
    assert any(
        p["type"] == "Percent" and p["value"] >= 100 and p["periodSeconds"] <= 60
        for p in up["policies"]
    )
    assert hpa["spec"]["minReplicas"] >= 2  # one pod lost still leaves one serving
