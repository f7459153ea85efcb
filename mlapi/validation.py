"""Input that fails its checks, told in one line: a body that is not JSON, a pydantic error as
`where: msg`. No HTTP here (settings, the CLI and the protocols use it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from mlapi.errors import InvalidJSON


def parse_json(body: bytes) -> Any:
    """The JSON value of a body, or `InvalidJSON` saying why it is not one."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8 JSON: {exc}") from None


def location(error: Mapping[str, Any]) -> str:
    """Where a pydantic error is, dotted (`inputs.0.shape`); empty at the top level."""
    return ".".join(str(part) for part in error.get("loc", ()))


def problem(error: Mapping[str, Any], *, top: str = "") -> str:
    """One pydantic error as `where: msg`; `top` names the top level."""
    return f"{location(error) or top}: {error.get('msg')}"


def first_problem(errors: Sequence[Mapping[str, Any]], *, top: str = "") -> str:
    """The first of pydantic's `errors()` as `where: msg` (none: `invalid request`)."""
    return problem(errors[0] if errors else {"msg": "invalid request"}, top=top)
