"""mlapi's own `/predict` and `/models/{name}/predict`: `{"text": [...]}` for a classifier,
`{"x": [[...], ...]}` for a tabular model (text-embeddings-inference's body for an embedding
model), answered `{"predictions": [...]}` from the stored JSON rows, joined as bytes."""

from __future__ import annotations

from typing import Any

from mlapi.errors import InvalidRequest
from mlapi.kinds import Capability
from mlapi.protocols import tei
from mlapi.protocols.base import Answer, Call, served_by
from mlapi.serving.dataplane import DataPlane
from mlapi.serving.parsing import text_field
from mlapi.validation import parse_json


def decode(body: bytes, capability: Capability) -> list[Any]:
    """A classifier's texts or a row model's rows (each checked by the model's `keys`); an
    embedding model's body is `tei.decode`'s."""
    if capability is Capability.CLASSIFY:
        return text_field(body)
    payload = parse_json(body)
    if not isinstance(payload, dict) or "x" not in payload:
        raise InvalidRequest('body must be a JSON object like {"x": [[...], ...]}')
    items = payload["x"]
    if not isinstance(items, list) or not items:
        raise InvalidRequest('"x" must be a row of numbers or a non-empty list of rows')
    return items


class Native:
    name = "native"

    async def handle(self, call: Call, plane: DataPlane) -> Answer:
        deployment = plane.model(call.params.get("name"))
        capability = deployment.kind.capability
        if capability is Capability.EMBED:
            return await tei.answer(deployment, call.body, plane)
        result = await plane.infer(deployment, decode(call.body, capability))
        return Answer(
            b'{"predictions":[' + b",".join(result.values) + b"]}",
            headers=served_by(result.version, result.outcome),
        )


CODEC = Native()
