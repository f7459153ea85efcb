"""The gateway matches the API: the app's route table against the prod VirtualServices and the
AuthorizationPolicy, with Istio's matching rules (exact, prefix, RE2 full-match regex, method;
policy paths exact, `prefix*` or `*suffix`)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.k8s.conftest import find

Docs = dict[str, list[dict[str, Any]]]
SAMPLE = {"name": "sentiment", "version": "1", "job_id": "0123abcd"}
GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
# Served to the cluster, never to the public: the scrape endpoint and the schema.
INTERNAL = {"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


def is_admin(method: str, path: str) -> bool:
    return (
        path == "/train"
        or path.startswith(("/train/", "/v2/repository/"))
        or path == "/models/{name}/load"
        or (method == "DELETE" and path == "/models/{name}")
        or path.endswith(("/rollback", "/canary", "/canary/promote"))  # the fleet's versions
    )


def route_table() -> set[tuple[str, str]]:
    """(method, path template) of every route the app answers, schema or not."""
    app = create_app(Settings())
    table = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    for route in app.routes:
        if isinstance(route, APIRoute | Route):
            table |= {(m, route.path) for m in route.methods or ()} - {("HEAD", route.path)}
    return table


TABLE = route_table()
PUBLIC = {(m, p) for m, p in TABLE if not is_admin(m, p) and p not in INTERNAL}
ADMIN = {(m, p) for m, p in TABLE if is_admin(m, p)}


def sample(path: str) -> str:
    return path.format(**SAMPLE)


def uri_matches(rule: dict[str, str], path: str) -> bool:
    if "exact" in rule:
        return path == rule["exact"]
    if "prefix" in rule:
        return path.startswith(rule["prefix"])
    return re.fullmatch(rule["regex"], path) is not None


def vs_route(service: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The first http route of a VirtualService that takes this request (Istio's order)."""
    for route in service["spec"]["http"]:
        matches = route.get("match") or [{}]
        for match in matches:
            if "uri" in match and not uri_matches(match["uri"], path):
                continue
            if "method" in match and not uri_matches(match["method"], method):
                continue
            return dict(route)
    return None


def policy_path(pattern: str, path: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def denied(policy: dict[str, Any], principal: str, method: str, path: str) -> bool:
    for rule in policy["spec"]["rules"]:
        principals = [p for source in rule.get("from", []) for p in source["source"]["principals"]]
        if principals and principal not in principals:
            continue
        for operation in (to["operation"] for to in rule.get("to", [])):
            if "methods" in operation and method not in operation["methods"]:
                continue
            if any(policy_path(p, path) for p in operation.get("paths", ["*"])):
                return True
    return False


def test_the_table_has_every_kind_of_route() -> None:
    assert {("POST", "/predict"), ("POST", "/models/{name}/predict")} <= PUBLIC
    assert {("POST", "/v1/embeddings"), ("GET", "/stats"), ("GET", "/v2")} <= PUBLIC
    assert {("POST", "/train"), ("POST", "/models/{name}/load")} <= ADMIN
    assert {("DELETE", "/models/{name}"), ("POST", "/v2/repository/index")} <= ADMIN


def test_the_admin_split_is_the_apps_own(client: TestClient) -> None:
    """Without admin keys the app refuses exactly the routes called admin here."""
    for method, path in sorted(ADMIN | PUBLIC):
        status = client.request(method, sample(path), json={}).status_code
        assert (status == 403) == ((method, path) in ADMIN), (method, path, status)


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
def test_every_public_route_is_routed_by_the_gateway(
    rendered: Docs, method: str, path: str
) -> None:
    route = vs_route(find(rendered["prod"], "VirtualService", "mlapi"), method, sample(path))
    assert route is not None, f"{method} {path} answers 404 at the gateway"
    assert route["timeout"]
    if method == "POST":  # predictions are pure: retried on another pod after a 5xx
        assert {"5xx", "reset", "connect-failure"} <= set(route["retries"]["retryOn"].split(","))


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN | {("GET", p) for p in INTERNAL}))
def test_admin_and_internal_routes_are_not_public(rendered: Docs, method: str, path: str) -> None:
    assert vs_route(find(rendered["prod"], "VirtualService", "mlapi"), method, sample(path)) is None
    policy = find(rendered["prod"], "AuthorizationPolicy", "mlapi-deny-admin-from-gateway")
    assert denied(policy, GATEWAY, method, sample(path))


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
def test_the_policy_lets_public_routes_through(rendered: Docs, method: str, path: str) -> None:
    policy = find(rendered["prod"], "AuthorizationPolicy", "mlapi-deny-admin-from-gateway")
    assert policy["spec"]["action"] == "DENY"
    assert not denied(policy, GATEWAY, method, sample(path))


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN))
def test_admin_routes_in_the_mesh_are_never_retried(rendered: Docs, method: str, path: str) -> None:
    """Istio retries by default: a retried POST /train would start a second run."""
    internal = find(rendered["prod"], "VirtualService", "mlapi-internal")
    assert internal["spec"]["gateways"] == ["mesh"]
    route = vs_route(internal, method, sample(path))
    assert route is not None and route["retries"] == {"attempts": 0}, (method, path)
    assert route["timeout"]


def test_the_policy_selects_the_mlapi_pods(rendered: Docs) -> None:
    policy = find(rendered["prod"], "AuthorizationPolicy", "mlapi-deny-admin-from-gateway")
    labels = find(rendered["prod"], "Deployment", "mlapi")["spec"]["template"]["metadata"]
    assert policy["spec"]["selector"]["matchLabels"].items() <= labels["labels"].items()


def test_the_played_routes_cover_the_gateway() -> None:
    """`make kube-play` sends a request to every public route through the played bundle."""
    from kubeplay.routes import PUBLIC as PLAYED

    assert {(method, path) for method, path, _, _ in PLAYED} == PUBLIC
