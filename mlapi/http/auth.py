"""API keys: predict keys (MLAPI_API_KEYS, optional) and admin keys (MLAPI_ADMIN_KEYS)."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import HTTPConnection

from mlapi.errors import Forbidden, Unauthorized

HOW = "Authorization: Bearer <key> or X-API-Key"


def _given(request: HTTPConnection) -> bytes:
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
    return token.strip().encode()


def _split(secret: SecretStr | None) -> list[bytes]:
    raw = secret.get_secret_value() if secret else ""
    return [key.strip().encode() for key in raw.split(",") if key.strip()]


def _matches(token: bytes, keys: list[bytes]) -> bool:
    # compare_digest against every key: the time taken does not say which key matched
    return any([hmac.compare_digest(token, key) for key in keys])


class KeyChecker:
    """Predict keys: none configured means open; otherwise 401 without a valid key."""

    def __init__(self, keys: SecretStr | None) -> None:
        self.keys = _split(keys)

    def check(self, request: HTTPConnection) -> None:
        if self.keys and not _matches(_given(request), self.keys):
            raise Unauthorized(
                f"a valid API key is required ({HOW})", headers={"WWW-Authenticate": "Bearer"}
            )


class AdminChecker:
    """Admin keys, a scope of their own: 403 unless one is given (none configured: always)."""

    def __init__(self, keys: SecretStr | None) -> None:
        self.keys = _split(keys)

    def check(self, request: HTTPConnection) -> None:
        if not self.keys:
            raise Forbidden("the admin API is disabled: set MLAPI_ADMIN_KEYS to enable it")
        if not _matches(_given(request), self.keys):
            raise Forbidden(f"an admin key is required ({HOW}); predict keys are not admin keys")
