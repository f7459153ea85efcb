"""Admin loads, rollbacks and canaries reach every replica through the desired state; a
replica that cannot follow keeps its version and says so; bad requests change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harness.servers import RedisServer
from tests.agreement import assert_differ
from tests.fleet.conftest import ADMIN, Replicas, converge, serving

TEXTS = [f"review number {i}: the film was {'good' if i % 2 else 'dull'}" for i in range(400)]


def version_of(client: TestClient, text: str) -> str:
    response = client.post("/predict", json={"text": [text]})
    assert response.status_code == 200, response.text
    version: str = response.headers["X-MLAPI-Model-Version"]
    return version


def test_a_load_on_one_replica_serves_everywhere_and_on_new_replicas(
    replicas: Replicas, second_model_dir: Path
) -> None:
    a, b = replicas(), replicas()
    before = b.post("/predict", json={"text": TEXTS[:2]}).json()
    loaded = a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    assert loaded.status_code == 200, loaded.text
    converge(b)
    for client in (a, b):
        entry = serving(client)
        assert entry["version"] == "2"
        assert entry["fleet"]["desired"]["version"] == "2" and not entry["fleet"]["skew"]
    after = b.post("/predict", json={"text": TEXTS[:2]}).json()
    scores = [
        [e["score"] for e in row] for row in (before["predictions"][0], after["predictions"][0])
    ]
    assert_differ(scores[0], scores[1])
    late = replicas()  # a pod the HPA adds: it starts from the desired state
    assert version_of(late, "first answer") == "2"
    assert serving(late)["card"]["path"] == str(second_model_dir.resolve())


def test_rollback_returns_every_replica_to_the_earlier_version(
    replicas: Replicas, second_model_dir: Path
) -> None:
    a, b = replicas(), replicas()
    a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    converge(b)
    assert serving(b)["version"] == "2"
    back = a.post("/models/default/rollback", headers=ADMIN)
    assert back.status_code == 200, back.text
    converge(b)
    for client in (a, b):
        entry = serving(client)
        assert entry["version"] == "1" and entry["fleet"]["desired"]["history"] == ["2"]


def test_a_replica_that_cannot_load_the_desired_version_keeps_its_own(
    replicas: Replicas, second_model_dir: Path, model_dir: Path
) -> None:
    a = replicas()
    narrow = replicas(model_roots=str(model_dir.parent))  # cannot read second_model_dir
    a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    converge(narrow)
    entry = serving(narrow)
    assert entry["version"] == "1" and entry["state"] == "READY"
    assert entry["fleet"]["skew"] and "outside the allowed roots" in entry["fleet"]["error"]
    # The gauge's value is read back per replica from a real Prometheus in
    # tests/slo/test_fleet_smoke.py (replicas here share one process and one registry).
    assert narrow.get("/ready").status_code == 200
    assert "mlapi_model_version_skew" in narrow.get("/metrics").text
    assert narrow.get("/stats").json()["models"]["default"]["fleet"]["skew"]


def test_a_canary_takes_a_stable_share_of_distinct_texts(
    replicas: Replicas, second_model_dir: Path
) -> None:
    a, b = replicas(), replicas()
    started = a.post(
        "/models/default/canary",
        json={"path": str(second_model_dir), "percent": 10},
        headers=ADMIN,
    )
    assert started.status_code == 200, started.text
    converge(b)
    first = {text: version_of(a, text) for text in TEXTS}
    share = sum(v == "2" for v in first.values()) / len(TEXTS)
    assert 0.07 <= share <= 0.13, share
    assert all(version_of(b, text) == first[text] for text in TEXTS[:100])  # same text, same
    assert all(version_of(a, text) == first[text] for text in TEXTS[:100])  # version
    stats = a.get("/stats").json()["models"]["default"]
    assert stats["canary"]["version"] == "2" and stats["canary"]["percent"] == 10
    assert stats["canary"]["items"] > 0
    promoted = a.post("/models/default/canary/promote", headers=ADMIN)
    assert promoted.status_code == 200, promoted.text
    converge(b)
    assert {version_of(b, text) for text in TEXTS[:50]} == {"2"}


def test_abort_stops_the_canary_everywhere(replicas: Replicas, second_model_dir: Path) -> None:
    a, b = replicas(), replicas()
    body = {"path": str(second_model_dir), "percent": 50}
    a.post("/models/default/canary", json=body, headers=ADMIN)
    converge(b)
    assert "2" in {version_of(b, text) for text in TEXTS[:40]}
    assert a.delete("/models/default/canary", headers=ADMIN).status_code == 200
    converge(b)
    assert {version_of(b, text) for text in TEXTS[:40]} == {"1"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "type_"),
    [
        ("POST", "/models/default/rollback", {"version": "9"}, 409, "model_in_use"),
        ("POST", "/models/default/canary", {"path": "{second}", "percent": 150}, 422, None),
        ("POST", "/models/default/canary", {"path": "{second}", "percent": -1}, 422, None),
        ("POST", "/models/nope/canary", {"path": "{second}", "percent": 10}, 404, None),
        ("POST", "/models/default/canary", {"path": "/etc", "percent": 10}, 403, None),
        ("POST", "/models/default/canary/promote", None, 404, None),
        ("DELETE", "/models/default/canary", None, 404, None),
    ],
)
def test_bad_fleet_requests_are_typed_and_change_nothing(
    replicas: Replicas,
    second_model_dir: Path,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
    type_: str | None,
) -> None:
    a = replicas()
    if body is not None and body.get("path") == "{second}":
        body = {**body, "path": str(second_model_dir)}
    response = a.request(method, path, json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    if type_ is not None:
        assert response.json()["error"]["type"] == type_
    entry = serving(a)
    assert entry["version"] == "1" and entry["fleet"]["desired"] is None
    assert a.get("/stats").json()["models"]["default"]["canary"] is None


def test_an_unknown_rollback_version_is_404(replicas: Replicas, second_model_dir: Path) -> None:
    a = replicas()
    a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    response = a.post("/models/default/rollback", json={"version": "7"}, headers=ADMIN)
    assert response.status_code == 404 and "no earlier version '7'" in response.text
    assert serving(a)["version"] == "2"


def test_a_redis_outage_leaves_replicas_serving_and_convergence_resumes(
    replicas: Replicas, redis_server: RedisServer, second_model_dir: Path
) -> None:
    a, b = replicas(), replicas()
    redis_server.stop()
    converge(b)  # the desired state is unreadable: b serves on
    assert b.post("/predict", json={"text": ["during the outage"]}).status_code == 200
    failed = a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    assert failed.status_code == 503
    assert failed.json()["error"]["type"] == "desired_state_unavailable"
    assert serving(a)["version"] == "1"  # nothing changed
    redis_server.start()
    loaded = a.post("/models/default/load", json={"path": str(second_model_dir)}, headers=ADMIN)
    assert loaded.status_code == 200, loaded.text
    converge(b)
    assert serving(b)["card"]["path"] == str(second_model_dir.resolve())
