"""Every public route of the bundle, called on the played pod; what must stay closed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import yaml

from kubeplay.play import Play, find, log

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
