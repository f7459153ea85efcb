"""The v2 inference request, typed: every field is checked before the codec uses it.

Strict types (no `"3"` for 3, no `true` for 1): `parameters` are objects of booleans, numbers
and strings (the protocol's `$parameter`), with the binary extension's own ones typed; a shape
has at most `MAX_DIMS` dimensions, none negative; names are bounded. A violation is one
`InvalidRequest` naming the field (`outputs.0.name: Input should be a valid string`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from mlapi.errors import InvalidRequest
from mlapi.validation import first_problem

MAX_DIMS = 8
NAME_CHARS = 256  # a tensor's or an output's name
DATATYPE_CHARS = 16

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Name = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]
Dimension = Annotated[int, Field(ge=0)]


class Parameters(BaseModel):
    """A v2 `parameters` object: any names, each a boolean, a number or a string."""

    model_config = ConfigDict(extra="allow", strict=True)
    __pydantic_extra__: dict[str, Scalar] = Field(init=False)


class InputParameters(Parameters):
    binary_data_size: int | None = Field(
        None, ge=0, description="The input's bytes in the binary tail (binary tensor data)."
    )


class OutputParameters(Parameters):
    binary_data: bool | None = Field(None, description="Answer this output as binary data.")


class RequestParameters(Parameters):
    binary_data_output: bool | None = Field(
        None, description="Answer the outputs that name no choice as binary data."
    )


class InferInput(BaseModel):
    model_config = ConfigDict(strict=True)

    name: Name
    shape: list[Dimension] = Field(max_length=MAX_DIMS)
    datatype: str = Field(max_length=DATATYPE_CHARS)
    data: list[Any] | None = None  # None: sent as binary data (parameters.binary_data_size)
    parameters: InputParameters | None = None


class RequestedOutput(BaseModel):
    model_config = ConfigDict(strict=True)

    name: Name
    parameters: OutputParameters | None = None


class InferRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    id: str | None = Field(None, max_length=NAME_CHARS)
    inputs: list[InferInput] = Field(..., min_length=1)
    outputs: list[RequestedOutput] | None = None
    parameters: RequestParameters | None = None


def infer_request(payload: Any) -> InferRequest:
    """A JSON value as a request, or `InvalidRequest` naming its first problem."""
    try:
        return InferRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequest(first_problem(exc.errors(), top="body")) from None
