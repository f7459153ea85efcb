"""The OpenAPI schema as a whole: every route in one declared tag, every protocol named."""

from __future__ import annotations

from mlapi.app.factory import create_app
from mlapi.http.routes.inference import ROUTES
from mlapi.settings import Settings


def test_every_route_has_one_declared_tag() -> None:
    spec = create_app(Settings.model_validate({"docs": True})).openapi()
    declared = [tag["name"] for tag in spec["tags"]]
    assert all(tag.get("description") for tag in spec["tags"])
    assert len(set(declared)) == len(declared)
    used = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            tags = operation.get("tags", [])
            assert len(tags) == 1 and tags[0] in declared, (method, path, tags)
            assert tags[0] != "v2" or path.startswith("/v2"), (method, path)
            assert not path.startswith("/v2") or tags == ["v2"], (method, path)
            used.add(tags[0])
    assert used == set(declared)  # no tag without routes


def test_the_description_names_every_protocol() -> None:
    description = create_app(Settings.model_validate({"docs": True})).openapi()["info"][
        "description"
    ]
    for protocol in ("/predict", "/embed", "/v1/embeddings", "Open Inference Protocol v2"):
        assert protocol in description, protocol


def test_v2_routes_answer_v2_errors_and_declare_no_typed_error_body() -> None:
    spec = create_app(Settings.model_validate({"docs": True})).openapi()
    for route in ROUTES:
        responses = spec["paths"][route.template]["post"]["responses"]
        assert route.v2_errors == route.template.startswith("/v2/")
        assert ("503" in responses) != route.v2_errors, route.template  # ErrorBody: typed
