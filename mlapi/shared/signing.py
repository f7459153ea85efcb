"""Records that replicas share through Redis carry an HMAC: Redis holds data, not authority.

A record is `mlapi2.<key id>.<hex HMAC-SHA256>.<payload>`. The key id (`key_id`) names the key
that signed it without revealing it, so a replica verifies with that key among the keys it
accepts (`MLAPI_REDIS_SIGNING_KEYS`: the first signs, the others are still accepted while a
rotation is rolled out). The MAC covers the Redis key the record is stored under, so a valid
record cannot be copied to another key (another job, another model's poison list). Records of
the first format, `mlapi1.<hex HMAC-SHA256>.<payload>`, are still accepted when an accepted key
made them, so an upgrade keeps one fleet. Whoever can write to Redis but lacks an accepted key
cannot make a record that any replica acts on: it is ignored and counted in
`mlapi_redis_records_rejected_total`.

Cached answers carry a shorter binary tag (`Signer.tag_value`): the 4 bytes of the key id, then
16 bytes of keyed BLAKE2b over the Redis key and the value, under a key derived from the signing
key. The cached path pays one BLAKE2b per value, not a hex HMAC-SHA256.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence

from mlapi.observability import metrics
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.signing")
VERSION = b"mlapi2"
LEGACY = b"mlapi1"
_MAC_HEX = 64
_KID_HEX = 8
_KID = _KID_HEX // 2  # bytes of the key id in a cached value's tag
_VALUE_MAC = 16  # bytes of a cached value's MAC
VALUE_TAG = _KID + _VALUE_MAC


def key_id(secret: str) -> str:
    """A public name for a signing key: 8 hex digits of HMAC(key, "mlapi-key-id")."""
    return hmac.new(secret.encode(), b"mlapi-key-id", hashlib.sha256).hexdigest()[:_KID_HEX]


def signer_for(settings: Settings) -> Signer | None:
    """The signer of what replicas share through Redis; None when nothing may be shared."""
    keys = settings.signing_keys()
    return Signer(keys) if settings.redis_url and keys else None


class _Key:
    __slots__ = ("kid", "kid_raw", "secret", "value_key")

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.kid = key_id(secret).encode()
        self.kid_raw = bytes.fromhex(self.kid.decode())
        self.value_key = hmac.new(self.secret, b"mlapi-cache-value", hashlib.sha256).digest()


class Signer:
    """Signs with the first of `secrets` and accepts every one of them (a single key: a str)."""

    def __init__(self, secrets: str | Sequence[str]) -> None:
        keys = [_Key(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
        if not keys:
            raise ValueError("a Signer needs at least one key")
        self._signing = keys[0]
        self._accepted = {k.kid: k for k in keys}
        self._by_raw_kid = {k.kid_raw: k for k in keys}
        self._reported: set[str] = set()  # keys already logged: a WARNING once, not every pass

    @property
    def key_ids(self) -> list[str]:
        """The ids of the accepted keys, the signing key's first (safe to log)."""
        return [kid.decode() for kid in self._accepted]

    @staticmethod
    def _mac(secret: bytes, kid: bytes, key: str, payload: bytes) -> bytes:
        message = VERSION + b"." + kid + b"\0" + key.encode() + b"\0" + payload
        return hmac.new(secret, message, hashlib.sha256).hexdigest().encode()

    @staticmethod
    def _legacy_mac(secret: bytes, key: str, payload: bytes) -> bytes:
        message = key.encode() + b"\0" + payload
        return hmac.new(secret, message, hashlib.sha256).hexdigest().encode()

    def seal(self, key: str, payload: bytes) -> bytes:
        k = self._signing
        return b".".join((VERSION, k.kid, self._mac(k.secret, k.kid, key, payload), payload))

    def open(self, key: str, sealed: bytes | str | None, what: str) -> bytes | None:
        """The payload when `sealed` was made by `seal(key, ...)` with an accepted key, else None
        (counted and logged: someone without the key wrote to Redis, or the keys differ)."""
        if sealed is None:
            return None
        raw = sealed.encode() if isinstance(sealed, str) else sealed
        payload = self._verified(key, raw)
        if payload is not None:
            return payload
        metrics.REDIS_REJECTED.labels(what=what).inc()
        if key not in self._reported and len(self._reported) < 1000:
            self._reported.add(key)
            logger.warning(
                "ignored a %s in Redis that fails the signature check (%s; accepted key ids %s)",
                what,
                key,
                ",".join(self.key_ids),
            )
        return None

    def _verified(self, key: str, raw: bytes) -> bytes | None:
        head = len(VERSION) + 1
        if raw[:head] == VERSION + b".":
            kid = raw[head : head + _KID_HEX]
            start = head + _KID_HEX + 1
            mac, payload = raw[start : start + _MAC_HEX], raw[start + _MAC_HEX + 1 :]
            signer = self._accepted.get(kid)
            if signer is not None and hmac.compare_digest(
                mac, self._mac(signer.secret, kid, key, payload)
            ):
                return payload
            return None
        if raw[:head] == LEGACY + b".":  # written before key ids: tried with each accepted key
            mac, payload = raw[head : head + _MAC_HEX], raw[head + _MAC_HEX + 1 :]
            for accepted in self._accepted.values():
                if hmac.compare_digest(mac, self._legacy_mac(accepted.secret, key, payload)):
                    return payload
        return None

    def tag_value(self, redis_key: bytes, value: bytes) -> bytes:
        """`value` as cached under `redis_key`: the key id and a 16-byte MAC, then the value."""
        k = self._signing
        data = redis_key + b"\0" + value
        mac = hashlib.blake2b(data, key=k.value_key, digest_size=_VALUE_MAC).digest()
        return k.kid_raw + mac + value

    def open_value(self, redis_key: bytes, tagged: bytes) -> bytes | None:
        """The value when `tagged` was made by `tag_value(redis_key, ...)` with an accepted
        key, else None (the caller counts it)."""
        k = self._by_raw_kid.get(tagged[:_KID])
        if k is None:
            return None
        value = tagged[VALUE_TAG:]
        data = redis_key + b"\0" + value
        mac = hashlib.blake2b(data, key=k.value_key, digest_size=_VALUE_MAC).digest()
        return value if hmac.compare_digest(mac, tagged[_KID:VALUE_TAG]) else None
