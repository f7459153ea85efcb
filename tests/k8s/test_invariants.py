"""What must hold between the rendered objects, and between them and the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.k8s.conftest import OVERLAYS, find

Docs = dict[str, list[dict[str, Any]]]


def served_paths() -> set[str]:
    app = create_app(Settings())
    direct = {path for route in app.routes if (path := getattr(route, "path", None))}
    return direct | set(app.openapi()["paths"])


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_match_pod_labels(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] == "Deployment"
    }
    for doc in docs:
        selector = None
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = [pods[doc["metadata"]["name"]]]
        elif doc["kind"] == "Service":
            selector = doc["spec"]["selector"]
        elif doc["kind"] in {"PodDisruptionBudget", "NetworkPolicy"}:
            selector = doc["spec"].get("selector", doc["spec"].get("podSelector"))["matchLabels"]
        if selector is None:
            continue
        labels = list(pods.values())
        assert any(selector.items() <= pod.items() for pod in labels), doc["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_target_ports_are_container_ports(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        deployment = next(
            d
            for d in docs
            if d["kind"] == "Deployment"
            and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        )
        ports = {p["containerPort"] for c in containers(deployment) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports


def test_probe_paths_exist_in_the_app(rendered: Docs) -> None:
    routes = served_paths()
    deployment = find(rendered["prod"], "Deployment", "mlapi")
    container = containers(deployment)[0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in routes
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in routes


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpa_targets_the_deployment(rendered: Docs, overlay: str) -> None:
    hpa = find(rendered[overlay], "HorizontalPodAutoscaler", "mlapi")
    target = hpa["spec"]["scaleTargetRef"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert find(rendered[overlay], target["kind"], target["name"])["apiVersion"] == "apps/v1"
    assert hpa["spec"]["behavior"]["scaleUp"] and hpa["spec"]["behavior"]["scaleDown"]
    assert 0 < hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_redis_url_names_the_redis_service(rendered: Docs, overlay: str) -> None:
    url = find(rendered[overlay], "ConfigMap", "mlapi")["data"]["MLAPI_REDIS_URL"]
    user, address = url.split("//")[1].split("/")[0].split("@")
    host, port = address.split(":")
    service = find(rendered[overlay], "Service", host)
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert ":" not in user, "the password comes from a Secret, not the URL"
    Settings(redis_url=url)  # a URL the service accepts


def test_prod_image_is_pinned(rendered: Docs) -> None:
    for deployment in (d for d in rendered["prod"] if d["kind"] == "Deployment"):
        for container in containers(deployment):
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(rendered: Docs, overlay: str) -> None:
    for deployment in (d for d in rendered[overlay] if d["kind"] == "Deployment"):
        for container in containers(deployment):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert {"cpu", "memory"} <= resources["limits"].keys()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(rendered: Docs, overlay: str) -> None:
    for deployment in (d for d in rendered[overlay] if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_shutdown_outlasts_the_drain(rendered: Docs) -> None:
    deployment = find(rendered["prod"], "Deployment", "mlapi")
    pod = deployment["spec"]["template"]["spec"]
    settings = find(rendered["prod"], "ConfigMap", "mlapi")["data"]
    pre_stop = containers(deployment)[0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(settings["MLAPI_DRAIN_GRACE_S"])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


def test_prod_specifics(rendered: Docs) -> None:
    docs = rendered["prod"]
    namespace = find(docs, "Namespace", "mlapi")
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"mlapi"}
    gateway = find(docs, "Gateway", "mlapi")
    https = next(s for s in gateway["spec"]["servers"] if s["port"]["protocol"] == "HTTPS")
    assert https["tls"]["mode"] == "SIMPLE" and https["tls"]["credentialName"]
    http = next(s for s in gateway["spec"]["servers"] if s["port"]["protocol"] == "HTTP")
    assert http["tls"]["httpsRedirect"] is True
    assert find(docs, "PeerAuthentication", "mlapi")["spec"]["mtls"]["mode"] == "STRICT"
    dashboards = find(docs, "ConfigMap", "mlapi-grafana-dashboards")
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert "mlapi.json" in dashboards["data"]


def test_dev_has_no_istio_and_one_small_replica(rendered: Docs) -> None:
    docs = rendered["dev"]
    assert not [d for d in docs if "istio.io" in d["apiVersion"]]
    deployment = find(docs, "Deployment", "mlapi")
    assert deployment["spec"]["replicas"] == 1
    assert containers(deployment)[0]["resources"]["limits"]["cpu"] == "1"


def test_network_policies_admit_only_gateway_prometheus_and_mlapi(rendered: Docs) -> None:
    docs = rendered["prod"]
    api = find(docs, "NetworkPolicy", "mlapi")["spec"]["ingress"]
    sources = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in api
        for peer in rule["from"]
    ]
    assert sources == ["istio-system", "monitoring"]
    redis = find(docs, "NetworkPolicy", "mlapi-redis")["spec"]["ingress"]
    assert redis[0]["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "mlapi",
                    "app.kubernetes.io/component": "api",
                }
            }
        }
    ]


def test_dev_admits_the_namespaces_own_pods_and_prod_does_not(rendered: Docs) -> None:
    """dev has no mesh: in-cluster clients of its namespace call the Service directly."""
    own = {"from": [{"podSelector": {}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    dev = find(rendered["dev"], "NetworkPolicy", "mlapi")["spec"]["ingress"]
    prod = find(rendered["prod"], "NetworkPolicy", "mlapi")["spec"]["ingress"]
    assert dev == [*prod, own]


def test_redis_evicts_only_ttl_keys_and_admits_only_the_acl_user(rendered: Docs) -> None:
    data = find(rendered["prod"], "ConfigMap", "mlapi-redis")["data"]
    conf = data["redis.conf"]
    assert "maxmemory-policy volatile-lru" in conf and "maxmemory " in conf
    assert "requirepass" not in conf and "\nuser " not in "\n" + conf  # users: the ACL file only
    acl_file = next(line.split()[1] for line in conf.splitlines() if line.startswith("aclfile "))
    script = data["start.sh"]
    assert f"> {acl_file}" in script and 'echo "user default off ' in script
    url_user = find(rendered["prod"], "ConfigMap", "mlapi")["data"]["MLAPI_REDIS_URL"]
    assert f'echo "user {url_user.split("//")[1].split("@")[0]} on #$hash ' in script
    assert script.rstrip().endswith('exec redis-server "$@"')
    redis = containers(find(rendered["prod"], "Deployment", "mlapi-redis"))[0]
    assert redis["command"] == ["sh", "/etc/redis/start.sh"]
    assert redis["args"] == ["/etc/redis/redis.conf"] and "env" not in redis


def test_training_job_is_separate_and_writes_to_its_claim(rendered: Docs) -> None:
    assert not [d for d in rendered["prod"] if d["kind"] == "Job"]
    claims = [
        d["metadata"]["name"] for d in rendered["prod"] if d["kind"] == "PersistentVolumeClaim"
    ]
    assert claims == [
        "mlapi-redis-data"
    ]  # Redis's own; no trainer claim outside the training overlay
    job = find(rendered["jobs"], "Job", "mlapi-trainer")
    pod = job["spec"]["template"]["spec"]
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    find(rendered["jobs"], "PersistentVolumeClaim", claim["persistentVolumeClaim"]["claimName"])
    output = next(a for a in pod["containers"][0]["args"] if a.startswith("--output="))
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == claim["name"])
    assert output.split("=", 1)[1].startswith(mount["mountPath"])
    assert not pod["containers"][0]["image"].endswith(":latest")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_models_config_is_mounted_where_the_setting_points(rendered: Docs, overlay: str) -> None:
    import yaml

    from mlapi.app.models_file import ModelsConfig

    docs = rendered[overlay]
    setting = Path(find(docs, "ConfigMap", "mlapi")["data"]["MLAPI_MODELS"])
    config = find(docs, "ConfigMap", "mlapi-models")["data"]
    models = ModelsConfig.model_validate(yaml.safe_load(config[setting.name]))
    assert models.default in {m.name for m in models.models}
    deployment = find(docs, "Deployment", "mlapi")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mount = next(
        m
        for m in containers(deployment)[0]["volumeMounts"]
        if m["mountPath"] == str(setting.parent)
    )
    assert volumes[mount["name"]]["configMap"]["name"] == "mlapi-models"
