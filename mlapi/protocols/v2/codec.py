"""The Open Inference Protocol v2 (KServe, Triton, MLServer): `POST .../infer`.

Inputs are tensors, in JSON or in the binary tensor data extension
(`mlapi.protocols.v2.binary`, tritonclient's default): one BYTES tensor of texts for a text
model, one numeric `[N, features]` tensor for a tabular model. Outputs: `probabilities` and
`label` for a model with labels, `embedding` for one that embeds. Errors are `{"error": "..."}`.

The request is typed (`mlapi.protocols.v2.request`) before it is used, and each input's shape is
held to the model's element cap (`Limits`) before its data is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlapi.errors import InvalidRequest, TooManyTexts
from mlapi.kinds import Capability
from mlapi.protocols.base import JSON, Answer, Call, served_by
from mlapi.protocols.v2 import binary as v2_binary
from mlapi.protocols.v2.request import InferInput, InferRequest, infer_request
from mlapi.runtime.embedder import normalize
from mlapi.serving.dataplane import DataPlane, Result
from mlapi.serving.deployment import Deployment
from mlapi.validation import parse_json

NUMERIC = frozenset({"FP32", "FP64", "INT64", "INT32"})


@dataclass(frozen=True)
class V2Tensor:
    """A tensor in JSON form: data is flat, row-major."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datatype": self.datatype,
            "shape": self.shape,
            "data": self.data,
        }


@dataclass(frozen=True)
class Limits:
    """What one request to a model may hold: `elements` per input tensor (its count limit, texts
    or rows, times `width`, the features of a row model), checked on the shape before any data
    is read; `setting` names the count limit."""

    elements: int
    setting: str
    width: int | None = None

    @classmethod
    def of(cls, deployment: Deployment) -> Limits:
        embeds = deployment.kind.capability is Capability.EMBED
        setting = "max_embedding_texts" if embeds else "max_texts"
        width = deployment.servable.input_width
        return cls(getattr(deployment.settings, setting) * (width or 1), setting, width)

    def count(self, given: InferInput) -> int:
        """The elements of an input's shape, within the cap."""
        count = math.prod(given.shape)  # at most 8 dimensions, none negative: no overflow
        if count > self.elements:
            rows = f" x {self.width} features" if self.width else ""
            raise TooManyTexts(
                f"input {given.name!r}: shape {given.shape} holds {count} elements, at most "
                f"{self.elements} per request (MLAPI_{self.setting.upper()}{rows})",
                limit=self.setting,
            )
        return count


def _flatten(data: list[Any]) -> list[Any]:
    """v2 allows nested (row-major) lists; tensors are handled flat."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def parse_infer(body: bytes, declared: str | None, limits: Limits) -> InferRequest:
    """The request, every input's data in `data` (binary tensor data decoded once its shape
    is within `limits` and its size holds exactly that shape)."""
    header, tail = v2_binary.split(body, declared)
    parsed = infer_request(parse_json(header))
    offset = 0
    for given in parsed.inputs:
        count = limits.count(given)
        size = given.parameters.binary_data_size if given.parameters else None
        if size is None:
            if given.data is None:
                raise InvalidRequest(f"input {given.name!r}: data is required")
            continue
        if offset + size > len(tail):
            raise InvalidRequest(
                f"input {given.name!r}: binary_data_size {size} runs past the body's binary data"
            )
        raw = tail[offset : offset + size]
        given.data = v2_binary.decode(given.name, given.datatype, count, raw)
        offset += size
    if offset != len(tail):
        raise InvalidRequest(f"{len(tail) - offset} bytes of binary data belong to no input")
    return parsed


def tensor(given: InferInput) -> V2Tensor:
    """A request tensor whose shape (typed: no negative dimension, at most 8, within the
    element cap) holds exactly its data."""
    data = _flatten(given.data or [])
    shape = given.shape
    if math.prod(shape) != len(data):
        raise InvalidRequest(
            f"input {given.name!r}: shape {shape} does not match {len(data)} elements"
        )
    return V2Tensor(given.name, given.datatype.upper(), shape, data)


def items_of(tensors: list[V2Tensor], width: int | None) -> list[Any]:
    """Texts from the one BYTES tensor, or rows from the one numeric `[N, width]` one."""
    if width is None:
        texts = [t for t in tensors if t.datatype == "BYTES"]
        if len(texts) != 1:
            raise InvalidRequest("send exactly one BYTES input tensor holding the texts")
        return texts[0].data
    numeric = [t for t in tensors if t.datatype in NUMERIC]
    if len(numeric) != 1:
        raise InvalidRequest(f"send exactly one input tensor of {sorted(NUMERIC)}")
    found = numeric[0]
    if found.shape[-1:] != [width]:
        raise InvalidRequest(
            f"input {found.name!r}: shape must be [N, {width}] with N*{width} values"
        )
    return [found.data[i : i + width] for i in range(0, len(found.data), width)]


def outputs_of(result: Result, capability: Capability) -> list[V2Tensor]:
    decoded = result.decoded()
    values = decoded.values
    if capability is Capability.EMBED:
        vectors = normalize(values)
        return [V2Tensor("embedding", "FP32", list(vectors.shape), vectors.ravel().tolist())]
    labels = result.servable.labels
    return [
        V2Tensor("probabilities", "FP32", list(values.shape), values.ravel().tolist()),
        V2Tensor("label", "BYTES", [len(values)], [labels[int(i)] for i in np.argmax(values, 1)]),
    ]


def signature(deployment: Deployment) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Metadata: (inputs, outputs), each `{"name", "datatype", "shape"}`."""
    servable = deployment.servable
    if servable.input_width is None:
        inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    else:
        inputs = [{"name": "x", "datatype": "FP64", "shape": [-1, servable.input_width]}]
    if deployment.kind.capability is Capability.EMBED:
        return inputs, [{"name": "embedding", "datatype": "FP32", "shape": [-1, servable.width]}]
    return inputs, [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, servable.width]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
    ]


def encode(
    answer: dict[str, Any], outputs: list[V2Tensor], parsed: InferRequest, headers: dict[str, str]
) -> Answer:
    """JSON outputs, or a JSON header followed by the outputs asked for as binary data."""
    tensors: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for output in outputs:
        if v2_binary.wants_binary(output.name, parsed.outputs, parsed.parameters):
            binary.append(v2_binary.encode(output.datatype, output.data))
            tensors.append(
                {
                    "name": output.name,
                    "datatype": output.datatype,
                    "shape": output.shape,
                    "parameters": {"binary_data_size": len(binary[-1])},
                }
            )
        else:
            tensors.append(output.as_dict())
    header = orjson.dumps({**answer, "outputs": tensors})
    if not binary:
        return Answer(header, JSON, headers)
    headers["Inference-Header-Content-Length"] = str(len(header))
    return Answer(b"".join([header, *binary]), "application/octet-stream", headers)


def decode(body: bytes, declared: str | None, limits: Limits) -> tuple[InferRequest, list[Any]]:
    """A request body (`declared`: its Inference-Header-Content-Length) as the typed request
    and the model's inputs (texts or rows); every problem is an `MLAPIError`."""
    parsed = parse_infer(body, declared, limits)
    return parsed, items_of([tensor(t) for t in parsed.inputs], limits.width)


class V2:
    name = "v2"

    async def handle(self, call: Call, plane: DataPlane) -> Answer:
        name = call.params["name"]
        deployment = plane.model(name, call.params.get("version"))
        parsed, items = decode(call.body, call.headers.get(v2_binary.HEADER), Limits.of(deployment))
        result = await plane.infer(deployment, items)
        outputs = outputs_of(result, deployment.kind.capability)
        if parsed.outputs:
            wanted = {o.name for o in parsed.outputs}
            unknown = wanted - {o.name for o in outputs}
            if unknown:
                raise InvalidRequest(f"unknown outputs {sorted(unknown)}")
            outputs = [o for o in outputs if o.name in wanted]
        answer: dict[str, Any] = {"model_name": name, "model_version": deployment.version.version}
        if parsed.id is not None:
            answer["id"] = parsed.id
        return encode(answer, outputs, parsed, served_by(result.version, result.outcome))


CODEC = V2()
