"""Checks a /predict body without pydantic on the hot path (no HTTP: kinds import this)."""

from __future__ import annotations

from typing import Any

import orjson

from mlapi.errors import InvalidJSON, InvalidRequest, TextTooLong, TooManyTexts
from mlapi.settings import Settings


def parse_texts(body: bytes, settings: Settings) -> list[str]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest('body must be a JSON object like {"text": ["..."]}')
    if "text" not in payload:
        raise InvalidRequest('field "text" is required')
    texts = payload["text"]
    if not isinstance(texts, list):
        raise InvalidRequest('field "text" must be a list of strings')
    return check_texts(texts, settings)


def check_texts(texts: list[Any], settings: Settings) -> list[str]:
    """The per-request limits: how many texts, each a string of bounded length."""
    if len(texts) > settings.max_texts:
        raise TooManyTexts(
            f"{len(texts)} texts sent, at most {settings.max_texts} per request (MLAPI_MAX_TEXTS)",
            limit="max_texts",
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
