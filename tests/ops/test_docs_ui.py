"""/docs and /redoc load every asset from the service itself: nothing from a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.settings import Settings


def test_docs_pages_and_their_assets_come_from_the_service(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no lifespan: the pages need no model
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert "://" not in html.text, page  # no absolute URL: no CDN, no font service
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assert urls, page
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in js.text
    assert client.get("/openapi.json").json()["info"]["title"] == "mlapi"


def test_docs_can_be_turned_off(settings: Settings) -> None:
    client = TestClient(create_app(settings.model_copy(update={"docs": False})))
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css"):
        assert client.get(path).status_code == 404, path
