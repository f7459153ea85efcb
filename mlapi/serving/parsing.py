"""Texts from a body, and the per-request text limits, without pydantic on the hot path (no
HTTP: kinds import this)."""

from __future__ import annotations

from typing import Any

from mlapi.errors import InvalidRequest, TextTooLong, TooManyTexts
from mlapi.settings import Settings
from mlapi.validation import parse_json


def text_field(body: bytes) -> list[Any]:
    """The `"text"` list of a `/predict` body (checked item by item by `check_texts`)."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InvalidRequest('body must be a JSON object like {"text": ["..."]}')
    if "text" not in payload:
        raise InvalidRequest('field "text" is required')
    texts = payload["text"]
    if not isinstance(texts, list):
        raise InvalidRequest('field "text" must be a list of strings')
    return texts


def check_texts(texts: list[Any], settings: Settings, *, setting: str = "max_texts") -> list[str]:
    """The per-request limits: how many texts (`setting`: the kind's own count limit), each a
    string of bounded length."""
    most: int = getattr(settings, setting)
    if len(texts) > most:
        raise TooManyTexts(
            f"{len(texts)} texts sent, at most {most} per request (MLAPI_{setting.upper()})",
            limit=setting,
        )
    limit = settings.max_text_chars
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidRequest(f"text[{index}] must be a string, got {type(text).__name__}")
        if len(text) > limit:
            raise TextTooLong(
                f"text[{index}] has {len(text)} characters, at most {limit} (MLAPI_MAX_TEXT_CHARS)",
                limit="max_text_chars",
            )
    return texts
