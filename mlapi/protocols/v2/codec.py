"""The Open Inference Protocol v2 (KServe, Triton, MLServer): `POST .../infer`.

Inputs are tensors, in JSON or in the binary tensor data extension
(`mlapi.protocols.v2.binary`, tritonclient's default): one BYTES tensor of texts for a text
model, one numeric `[N, features]` tensor for a tabular model. Outputs: `probabilities` and
`label` for a model with labels, `embedding` for one that embeds. Errors are `{"error": "..."}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel, Field, ValidationError

from mlapi.errors import InvalidRequest
from mlapi.kinds import Capability
from mlapi.protocols.base import JSON, Answer, Call, served_by
from mlapi.protocols.v2 import binary as v2_binary
from mlapi.runtime.embedder import normalize
from mlapi.serving.dataplane import DataPlane, Result
from mlapi.serving.deployment import Deployment
from mlapi.validation import first_problem, parse_json

NUMERIC = frozenset({"FP32", "FP64", "INT64", "INT32"})
MAX_DIMS = 8


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


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | None = None  # None: sent as binary data (parameters.binary_data_size)
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[InferInput] = Field(..., min_length=1)
    outputs: list[dict[str, Any]] | None = None
    parameters: dict[str, Any] | None = None


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


def parse_infer(body: bytes, declared: str | None) -> InferRequest:
    """The request, every input's data in `data` (binary tensor data decoded)."""
    header, tail = v2_binary.split(body, declared)
    try:
        parsed = InferRequest.model_validate(parse_json(header))
    except ValidationError as exc:
        raise InvalidRequest(first_problem(exc.errors())) from None
    offset = 0
    for given in parsed.inputs:
        size = v2_binary.binary_size(given.name, given.parameters)
        if size is None:
            if given.data is None:
                raise InvalidRequest(f"input {given.name!r}: data is required")
            continue
        if offset + size > len(tail):
            raise InvalidRequest(
                f"input {given.name!r}: binary_data_size {size} runs past the body's binary data"
            )
        given.data = v2_binary.decode(given.name, given.datatype, tail[offset : offset + size])
        offset += size
    if offset != len(tail):
        raise InvalidRequest(f"{len(tail) - offset} bytes of binary data belong to no input")
    return parsed


def tensor(given: InferInput) -> V2Tensor:
    """A request tensor whose shape holds exactly its data (no negative or huge dimension)."""
    data = _flatten(given.data or [])
    shape = given.shape
    if len(shape) > MAX_DIMS or any(d < 0 for d in shape):
        raise InvalidRequest(
            f"input {given.name!r}: shape {shape[: MAX_DIMS + 1]} must have at most {MAX_DIMS} "
            "dimensions, none negative"
        )
    if math.prod(shape) != len(data):  # Python ints: no overflow
        raise InvalidRequest(
            f"input {given.name!r}: shape {shape} does not match {len(data)} elements"
        )
    return V2Tensor(given.name, given.datatype.upper(), shape, data)


def items_of(tensors: list[V2Tensor], deployment: Deployment) -> list[Any]:
    """Texts from the one BYTES tensor, or rows from the one numeric `[N, features]` one."""
    width = deployment.servable.input_width
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


class V2:
    name = "v2"

    async def handle(self, call: Call, plane: DataPlane) -> Answer:
        name = call.params["name"]
        deployment = plane.model(name, call.params.get("version"))
        parsed = parse_infer(call.body, call.headers.get(v2_binary.HEADER))
        items = items_of([tensor(t) for t in parsed.inputs], deployment)
        result = await plane.infer(deployment, items)
        outputs = outputs_of(result, deployment.kind.capability)
        if parsed.outputs:
            wanted = {o.get("name") for o in parsed.outputs}
            unknown = wanted - {o.name for o in outputs}
            if unknown:
                raise InvalidRequest(f"unknown outputs {sorted(map(str, unknown))}")
            outputs = [o for o in outputs if o.name in wanted]
        answer: dict[str, Any] = {"model_name": name, "model_version": deployment.version.version}
        if parsed.id is not None:
            answer["id"] = parsed.id
        return encode(answer, outputs, parsed, served_by(result.version, result.outcome))


CODEC = V2()
