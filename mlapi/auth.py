"""Optional API keys (MLAPI_API_KEYS): a bearer token or an X-API-Key header."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from mlapi.errors import Unauthorized
from mlapi.settings import Settings


class KeyChecker:
    def __init__(self, settings: Settings) -> None:
        raw = settings.api_keys.get_secret_value() if settings.api_keys else ""
        self.keys = [key.strip().encode() for key in raw.split(",") if key.strip()]

    def check(self, request: Request) -> None:
        if not self.keys:
            return
        header = request.headers.get("authorization", "")
        given = (
            header[7:] if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
        )
        token = given.strip().encode()
        # compare_digest against every key: the time taken does not say which key matched
        if not any([hmac.compare_digest(token, key) for key in self.keys]):
            raise Unauthorized(
                "a valid API key is required (Authorization: Bearer <key> or X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )
