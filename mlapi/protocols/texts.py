"""The texts of an embeddings request (`/embed`'s "inputs", OpenAI's "input")."""

from __future__ import annotations

from typing import Any

from mlapi.errors import InputTooLong, InvalidRequest


def text_items(payload: Any, field: str) -> list[Any]:
    """A string or a non-empty list of strings (each checked by the model's `keys`)."""
    value = payload.get(field) if isinstance(payload, dict) else None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f'"{field}" must be a string or a non-empty list of strings')
    if any(isinstance(v, int | list) for v in value):
        raise InvalidRequest(f'"{field}": token arrays are not supported; send strings')
    return value


def check_length(counts: list[int], limit: int) -> None:
    """`"truncate": false`: refuse texts the tokenizer cut. Counts come with the vectors (the
    model's worker tokenizes once), so the check runs on the answer, never on the event loop."""
    for index, count in enumerate(counts):
        if count >= limit:  # at the limit: the tokenizer may have cut it
            raise InputTooLong(
                f"inputs[{index}] has at least {count} tokens, the model takes {limit}; "
                'send "truncate": true to cut it',
                limit="max_length",
            )
