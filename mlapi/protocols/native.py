"""mlapi's own `/predict` and `/models/{name}/predict`: `{"text": [...]}` for a classifier,
`{"x": [[...], ...]}` for a tabular model (text-embeddings-inference's body for an embedding
model), answered `{"predictions": [...]}` from the stored JSON rows, joined as bytes."""

from __future__ import annotations

from mlapi.errors import InvalidRequest
from mlapi.kinds import Capability
from mlapi.protocols import tei
from mlapi.protocols.base import Answer, Call, served_by
from mlapi.serving.dataplane import DataPlane
from mlapi.serving.parsing import text_field
from mlapi.validation import parse_json


class Native:
    name = "native"

    async def handle(self, call: Call, plane: DataPlane) -> Answer:
        deployment = plane.model(call.params.get("name"))
        capability = deployment.kind.capability
        if capability is Capability.EMBED:
            return await tei.answer(deployment, call.body, plane)
        if capability is Capability.CLASSIFY:
            items = text_field(call.body)
        else:
            payload = parse_json(call.body)
            if not isinstance(payload, dict) or "x" not in payload:
                raise InvalidRequest('body must be a JSON object like {"x": [[...], ...]}')
            items = payload["x"]
            if not isinstance(items, list) or not items:
                raise InvalidRequest('"x" must be a row of numbers or a non-empty list of rows')
        result = await plane.infer(deployment, items)
        return Answer(
            b'{"predictions":[' + b",".join(result.values) + b"]}",
            headers=served_by(result.version, result.outcome),
        )


CODEC = Native()
