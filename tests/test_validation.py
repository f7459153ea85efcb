"""Input that fails its checks, told in one line."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from mlapi.errors import InvalidJSON
from mlapi.validation import first_problem, location, parse_json, problem


class Inner(BaseModel):
    size: int


class Outer(BaseModel):
    inner: list[Inner]


def _errors(payload: object) -> list[dict[str, object]]:
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(payload)
    return [dict(error) for error in caught.value.errors()]


def test_parse_json() -> None:
    assert parse_json(b'{"a": [1]}') == {"a": [1]}
    for body in (b"", b"{", '{"a": "caf\u00e9"}'.encode("latin-1")):
        with pytest.raises(InvalidJSON, match=r"^body is not valid UTF-8 JSON: "):
            parse_json(body)


def test_where_and_what() -> None:
    nested = _errors({"inner": [{"size": "big"}]})
    assert location(nested[0]) == "inner.0.size"
    assert first_problem(nested).startswith("inner.0.size: Input should be a valid integer")
    top = _errors(3)
    assert location(top[0]) == ""
    assert problem(top[0]).startswith(": ")
    assert problem(top[0], top="body").startswith("body: ")
    assert first_problem([]) == ": invalid request"
