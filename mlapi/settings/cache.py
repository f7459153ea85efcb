"""Cache settings: the in-process LRU, the Redis tier, and what replicas share through Redis
(the desired model versions, signed)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SIGNING_KEY = 16  # characters of MLAPI_REDIS_SIGNING_KEY


class CacheSettings(BaseSettings):
    """Where answers are kept, and what replicas share."""

    model_config = SettingsConfigDict(env_prefix="MLAPI_", protected_namespaces=())

    cache_size: int = Field(100_000, ge=0, description="In-process LRU entries (0 disables it).")
    redis_url: str | None = Field(
        None, description="Enables the Redis tier, e.g. redis://host:6379/0"
    )
    redis_password: SecretStr | None = Field(
        None, description="Redis password (kept out of the URL, e.g. from a Secret)."
    )
    redis_ttl_s: int = Field(86_400, ge=1, description="Time to live of a Redis entry.")
    redis_timeout_ms: float = Field(100.0, gt=0, description="Per-command Redis timeout.")
    redis_retry_s: float = Field(
        2.0, ge=0, description="Pause before Redis is tried again after an error."
    )
    desired_poll_s: float = Field(
        2.0,
        gt=0,
        description="How often a replica reads the fleet's desired state (MLAPI_REDIS_URL and "
        "MLAPI_REDIS_SIGNING_KEY set) and loads what it does not serve yet.",
    )
    redis_signing_key: SecretStr | None = Field(
        None,
        description="Key that signs what replicas share through Redis (the desired state, "
        "training job records, activations, texts that crash a model) and authenticates cached "
        "answers; a record or answer that fails the check is ignored. Unset: records stay on "
        "each replica and Redis holds only the cache, unauthenticated (docs/security.md).",
    )
    redis_signing_keys: SecretStr | None = Field(
        None,
        description="Comma-separated signing keys for a rotation: the first signs, every one is "
        "accepted (docs/operations.md, Rotating the signing key). Used in place of "
        "MLAPI_REDIS_SIGNING_KEY; with both set, MLAPI_REDIS_SIGNING_KEY must be the first.",
    )
    require_signing_key: bool = Field(
        False,
        description="Refuse to start when MLAPI_REDIS_URL is set without a signing key, so that "
        "a missing Secret never leaves cached answers unauthenticated (on in the prod overlay).",
    )

    @field_validator("redis_signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SIGNING_KEY:
            raise ValueError(f"redis_signing_key must hold at least {MIN_SIGNING_KEY} characters")
        return value

    @field_validator("redis_signing_keys")
    @classmethod
    def _keys_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        keys = [k.strip() for k in value.get_secret_value().strip().split(",")]
        if any(len(k) < MIN_SIGNING_KEY for k in keys):
            raise ValueError(
                f"every key of redis_signing_keys must hold at least {MIN_SIGNING_KEY} "
                "characters (an empty entry between commas is refused too)"
            )
        if len(set(keys)) < len(keys):
            raise ValueError("redis_signing_keys holds a key twice")
        return value

    @model_validator(mode="after")
    def _one_signing_key(self) -> Self:
        single, keys = self.redis_signing_key, self.signing_keys()
        if self.redis_signing_keys and single and single.get_secret_value() != keys[0]:
            raise ValueError(
                "MLAPI_REDIS_SIGNING_KEY and MLAPI_REDIS_SIGNING_KEYS are both set and "
                "MLAPI_REDIS_SIGNING_KEY is not the first of MLAPI_REDIS_SIGNING_KEYS: set one, "
                "or make the single key the first of the list (the key that signs)"
            )
        if self.require_signing_key and self.redis_url and not keys:
            raise ValueError(
                "MLAPI_REQUIRE_SIGNING_KEY is true and MLAPI_REDIS_URL is set but no signing key "
                "is (MLAPI_REDIS_SIGNING_KEY or MLAPI_REDIS_SIGNING_KEYS): refusing to share "
                "unauthenticated answers and records through Redis"
            )
        return self

    def signing_keys(self) -> list[str]:
        """The signing keys, the one that signs first; [] when none is set."""
        if self.redis_signing_keys is not None:
            return [k.strip() for k in self.redis_signing_keys.get_secret_value().split(",")]
        if self.redis_signing_key is not None:
            return [self.redis_signing_key.get_secret_value()]
        return []

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return value
