"""Records that replicas share through Redis carry an HMAC: Redis holds data, not authority.

A value is `mlapi1.<hex HMAC-SHA256>.<payload>`; the MAC covers the Redis key it is stored
under, so a valid record cannot be copied to another key (another job, another model's poison
list). Whoever can write to Redis but lacks `MLAPI_REDIS_SIGNING_KEY` cannot make a record
that any replica acts on: it is ignored and counted in `mlapi_redis_records_rejected_total`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from mlapi.observability import metrics
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.signing")
VERSION = b"mlapi1"
_MAC_HEX = 64


def signer_for(settings: Settings) -> Signer | None:
    """The signer of what replicas share through Redis; None when nothing may be shared."""
    key = settings.redis_signing_key
    return Signer(key.get_secret_value()) if settings.redis_url and key is not None else None


class Signer:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._reported: set[str] = set()  # keys already logged: a WARNING once, not every pass

    def _mac(self, key: str, payload: bytes) -> bytes:
        message = key.encode() + b"\0" + payload
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest().encode()

    def seal(self, key: str, payload: bytes) -> bytes:
        return VERSION + b"." + self._mac(key, payload) + b"." + payload

    def open(self, key: str, sealed: bytes | str | None, what: str) -> bytes | None:
        """The payload when `sealed` was made by `seal(key, ...)` with this secret, else None
        (counted and logged: someone without the key wrote to Redis, or the keys differ)."""
        if sealed is None:
            return None
        raw = sealed.encode() if isinstance(sealed, str) else sealed
        head = len(VERSION) + 1
        mac, payload = raw[head : head + _MAC_HEX], raw[head + _MAC_HEX + 1 :]
        if raw[:head] == VERSION + b"." and hmac.compare_digest(mac, self._mac(key, payload)):
            return payload
        metrics.REDIS_REJECTED.labels(what=what).inc()
        if key not in self._reported and len(self._reported) < 1000:
            self._reported.add(key)
            logger.warning("ignored a %s in Redis that fails the signature check (%s)", what, key)
        return None
