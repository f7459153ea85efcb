"""text-embeddings-inference's `/embed`: `{"inputs", "normalize", "truncate"}` -> `[[...]]`,
served by the first model that can embed."""

from __future__ import annotations

from typing import Any

import orjson

from mlapi.errors import InvalidRequest
from mlapi.kinds import Capability
from mlapi.protocols.base import Answer, Call, require, served_by
from mlapi.protocols.texts import check_length, text_items
from mlapi.runtime.embedder import normalize
from mlapi.serving.dataplane import DataPlane
from mlapi.serving.deployment import Deployment
from mlapi.validation import parse_json


def decode(body: bytes) -> tuple[list[Any], dict[str, bool]]:
    """The texts (each checked by the model's `keys`) and the options, `normalize` and
    `truncate`."""
    payload = parse_json(body)
    texts = text_items(payload, "inputs")  # a dict's, or refused
    options = {key: payload.get(key, True) for key in ("normalize", "truncate")}
    for key, value in options.items():
        if not isinstance(value, bool):
            raise InvalidRequest(f'"{key}" must be true or false')
    return texts, options


async def answer(deployment: Deployment, body: bytes, plane: DataPlane) -> Answer:
    require(deployment, Capability.EMBED)
    texts, options = decode(body)
    result = await plane.infer(deployment, texts)
    decoded = result.decoded()
    if not options["truncate"] and decoded.tokens is not None:
        check_length(decoded.tokens, result.servable.max_length)
    vectors = normalize(decoded.values) if options["normalize"] else decoded.values
    return Answer(
        orjson.dumps(vectors, option=orjson.OPT_SERIALIZE_NUMPY),
        headers=served_by(result.version, result.outcome),
    )


class TEI:
    name = "tei"

    async def handle(self, call: Call, plane: DataPlane) -> Answer:
        return await answer(plane.first(Capability.EMBED), call.body, plane)


CODEC = TEI()
