"""Input that fails its checks, told in one line: a body that is not JSON, a pydantic error as
`where: msg`; a header's byte count, parsed once for every reader. No HTTP here (settings, the
CLI and the protocols use it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from mlapi.errors import InvalidJSON

# A header's byte count has at most this many digits (10**18 bytes: past any body limit).
COUNT_DIGITS = 18


def parse_json(body: bytes) -> Any:
    """The JSON value of a body, or `InvalidJSON` saying why it is not one."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8 JSON: {exc}") from None


def byte_count(value: str | bytes) -> int | None:
    """A header's byte count (`Content-Length`, `Inference-Header-Content-Length`): ASCII
    digits only, at most `COUNT_DIGITS` of them; None for anything else (`"²"`, `"+1"`, `""`,
    5,000 digits), never an exception."""
    digits = value.isdigit() and (isinstance(value, bytes) or value.isascii())
    return int(value) if digits and len(value) <= COUNT_DIGITS else None


def location(error: Mapping[str, Any]) -> str:
    """Where a pydantic error is, dotted (`inputs.0.shape`); empty at the top level."""
    return ".".join(str(part) for part in error.get("loc", ()))


def problem(error: Mapping[str, Any], *, top: str = "") -> str:
    """One pydantic error as `where: msg`; `top` names the top level."""
    return f"{location(error) or top}: {error.get('msg')}"


def first_problem(errors: Sequence[Mapping[str, Any]], *, top: str = "") -> str:
    """The first of pydantic's `errors()` as `where: msg` (none: `invalid request`)."""
    return problem(errors[0] if errors else {"msg": "invalid request"}, top=top)
