"""The HTTP metrics' `handler` label for routes no layer named: looked up in the app's routes,
remembered only for paths that are their own template, by method, and bounded."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from mlapi.http.middleware.metrics import HttpMetricsMiddleware


def counted(handler: str, method: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_requests_total", {"handler": handler, "method": method, "status": status}
    )
    return value or 0.0


def app_with_metrics() -> tuple[FastAPI, list[HttpMetricsMiddleware]]:
    app = FastAPI()

    @app.get("/probe-h5")
    async def probe() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/things-h5/{name}")
    async def thing(name: str) -> dict[str, str]:
        return {"name": name}

    @app.post("/things-h5/special")
    async def special() -> dict[str, str]:
        return {"name": "special"}

    built: list[HttpMetricsMiddleware] = []

    def middleware(inner: object) -> HttpMetricsMiddleware:
        built.append(HttpMetricsMiddleware(inner))  # type: ignore[arg-type]
        return built[-1]

    app.add_middleware(middleware)
    return app, built


def test_static_paths_are_named_once_and_every_request_is_counted() -> None:
    app, built = app_with_metrics()
    before = counted("/probe-h5", "GET", "200")
    with TestClient(app) as client:
        for _ in range(5):
            assert client.get("/probe-h5").status_code == 200
    assert counted("/probe-h5", "GET", "200") - before == 5
    assert built[-1]._static == {("GET", "/probe-h5"): "/probe-h5"}


def test_a_path_is_named_by_its_method_and_templates_are_not_kept() -> None:
    app, built = app_with_metrics()
    before_post = counted("/things-h5/special", "POST", "200")
    before_get = counted("/things-h5/{name}", "GET", "200")
    with TestClient(app) as client:
        assert client.post("/things-h5/special").status_code == 200
        assert client.get("/things-h5/special").json() == {"name": "special"}
        assert client.get("/things-h5/other").status_code == 200
    assert counted("/things-h5/special", "POST", "200") - before_post == 1
    assert counted("/things-h5/{name}", "GET", "200") - before_get == 2  # not the POST's name
    assert built[-1]._static == {("POST", "/things-h5/special"): "/things-h5/special"}


def test_unknown_paths_and_methods_leave_nothing_behind() -> None:
    app, built = app_with_metrics()
    with TestClient(app) as client:
        for index in range(200):
            assert client.get(f"/nowhere-h5/{index}").status_code == 404
        assert client.request("BREW", "/probe-h5").status_code == 405
    assert built[-1]._static == {}
    assert counted("none", "GET", "404") >= 200
