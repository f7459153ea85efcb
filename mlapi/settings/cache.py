"""Cache settings: the in-process LRU, the Redis tier, and what replicas share through Redis
(the desired model versions, signed)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
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
        description="Key that signs what replicas share through Redis (training job records, "
        "activations, texts that crash a model); a record that fails the check is ignored. "
        "Unset: those stay on each replica and Redis holds only the cache.",
    )

    @field_validator("redis_signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SIGNING_KEY:
            raise ValueError(f"redis_signing_key must hold at least {MIN_SIGNING_KEY} characters")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return value
