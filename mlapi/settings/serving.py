"""Serving settings: models and runtimes, worker processes, batching, request limits, access,
and the server itself."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal, Self, get_args

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlapi.settings.fields import empty_is_none

DEFAULT_MODEL_ID = "distilbert-base-uncased-finetuned-sst-2-english"
# Runtime and precision of a text model (`mlapi.runtime.variants` builds each).
VariantName = Literal[
    "onnx-int8", "onnx-int8-mixed", "onnx-q8", "onnx-fp32", "torch-bf16", "torch-fp32"
]
VARIANT_NAMES: tuple[str, ...] = get_args(VariantName)


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota of this container (cgroup v2 `cpu.max` or v1 CFS), None when unlimited."""
    try:
        limit, every = (root / "cpu.max").read_text().split()[:2]
        return None if limit == "max" else int(limit) / int(every)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def default_threads() -> int:
    """CPUs this process may use: the affinity mask, capped by a container CPU limit."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)


class ServingSettings(BaseSettings):
    """How models are loaded and served, and who may call them."""

    model_config = SettingsConfigDict(env_prefix="MLAPI_", protected_namespaces=())

    # Model
    model_dir: Path | None = Field(
        None,
        description="Local model folder (config.json, tokenizer, weights). "
        "Unset: models/<model_id>, downloaded once with huggingface_hub.",
    )
    model_id: str = Field(DEFAULT_MODEL_ID, description="Hub id used only when model_dir is unset.")
    models: Path | None = Field(
        None,
        description="YAML file naming the models to serve (docs/models.md). Unset: the "
        "one model of model_dir, named `default`.",
    )
    model_roots: str | None = Field(
        None,
        description="Comma-separated folders that model loads (configured, admin, training) "
        "may read files from, links resolved; never /. Unset: the folders holding the "
        "configured models (a model folder itself when it sits in /), MLAPI_MODEL_REPOSITORY "
        "and MLAPI_TRAIN_DIR.",
    )
    model_repository: Path | None = Field(
        None,
        description="Folder whose subfolders can be loaded by name through the admin API "
        "or the v2 repository extension without giving a path.",
    )
    variant: Literal["auto", VariantName] = Field(
        "auto",
        description="Runtime and precision. `auto`: of the variants faithful to fp32 on this "
        "CPU (checked on the export's calibration set), the fastest.",
    )
    auto_variants: str = Field(
        "onnx-int8,onnx-int8-mixed,onnx-q8,onnx-fp32,torch-bf16,torch-fp32",
        description="Comma-separated candidates of the `auto` trial (an fp32 variant is always "
        "tried), e.g. to keep a variant that failed a fidelity check on your own data out.",
    )
    trial_dir: Path | None = Field(
        Path("/tmp/mlapi-trials"),
        description="Where the `auto` trial's result is kept, so a restart on the same node "
        "reuses it (empty: run the trial at every start).",
    )
    trial_store: Path | None = Field(
        None,
        description="Read-only `auto` trials kept at image build time "
        "(`python -m mlapi.tools.trial`), looked up after MLAPI_TRIAL_DIR; read only when "
        "no one but root or the service's user can write them. The image sets "
        "/opt/mlapi/trials.",
    )
    kind_modules: str = Field(
        "",
        description="Comma-separated modules that each define a model kind (`KIND`), beside "
        "the kinds of mlapi.kinds, e.g. `mycompany.kinds.ranker`.",
    )
    tabular_runtime: Literal["onnx", "skops"] = Field(
        "onnx",
        description="Tabular models: ONNX Runtime on model.onnx (skl2onnx), or scikit-learn "
        "itself on model.skops.",
    )
    cache_results: bool | None = Field(
        None,
        description="Cache answers (unset: the kind's default: on for text, off for tabular).",
    )
    onnx_spin: bool = Field(
        False,
        description="Let idle ONNX Runtime threads spin (off: they sleep, and leave "
        "the CPU to the HTTP side).",
    )
    threads: int = Field(
        default_factory=default_threads, ge=1, le=256, description="Intra-op threads."
    )
    max_length: int | None = Field(
        None,
        ge=8,
        description="Token limit per text (longer texts are truncated). "
        "Unset: the model's own maximum.",
    )
    warmup_batches: int = Field(3, ge=0, description="Forward passes run before /ready turns 200.")

    # Worker processes
    workers: int = Field(
        1,
        ge=0,
        le=32,
        description="Worker processes per model, each with threads/workers intra-op threads; "
        "a worker that dies is restarted and its batch run again. 0: the model runs in the "
        "server process (no crash isolation).",
    )
    worker_batch_timeout_s: float = Field(
        120.0,
        gt=0,
        description="A worker that holds one batch longer than this is killed (and restarted).",
    )

    # Batching
    max_batch_size: int = Field(64, ge=1, description="Texts per forward pass at most.")
    max_wait_ms: float = Field(2.0, ge=0, description="How long a batch waits to fill up.")
    max_batch_tokens: int = Field(
        8192,
        ge=0,
        description="Text models: tokens per batch at most, counted padded to the batch's "
        "longest text, or real tokens for a model that runs unpadded (0: only "
        "MLAPI_MAX_BATCH_SIZE counts). Texts of similar length are batched together.",
    )
    max_queue: int = Field(1024, ge=1, description="Texts waiting for the model; beyond: 503.")
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with an overload 503.")

    # Request limits
    max_texts: int = Field(64, ge=1, description="Texts per request at most.")
    max_embedding_texts: int = Field(
        2048,
        ge=1,
        description="Texts per request at most for embedding models (OpenAI's embeddings API "
        "takes 2048, LangChain sends 1000); their queue holds at least this many texts.",
    )
    max_text_chars: int = Field(10_000, ge=1, description="Characters per text at most.")
    max_body_bytes: int = Field(
        1_000_000,
        ge=64,
        description="Request body size at most, on every route (POST /train: "
        "MLAPI_TRAIN_MAX_UPLOAD_BYTES); refused with 413 before the key check or any parsing.",
    )
    max_header_bytes: int = Field(
        65_536,
        ge=1024,
        description="Request line and headers at most; beyond: 431 and the connection closed.",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A connection whose request line and headers are not complete this long "
        "after they began (or after it opened) is closed.",
    )
    body_idle_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="A request body that sends nothing for this long while the server waits "
        "for it gets 408 and the connection is closed.",
    )
    body_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="A request body not complete this long after its headers gets 408 and "
        "the connection is closed (at least MLAPI_BODY_IDLE_TIMEOUT_S).",
    )
    max_connections: int = Field(
        1024,
        ge=1,
        description="Open connections (and requests in progress) at most; beyond: 503.",
    )

    # Access
    api_keys: SecretStr | None = Field(
        None,
        description="Comma-separated keys; when set, /predict and /model need "
        "`Authorization: Bearer <key>` or `X-API-Key: <key>`.",
    )

    admin_keys: SecretStr | None = Field(
        None,
        description="Comma-separated keys for the admin API (loading and unloading models); "
        "unset: the admin API answers 403.",
    )
    require_api_keys: bool = Field(
        False,
        description="Refuse to start without a key in MLAPI_API_KEYS, so that a missing or empty "
        "Secret never leaves the predict routes open (on in the prod overlay).",
    )
    docs: bool = Field(
        True,
        description="Serve /docs, /redoc and /openapi.json (off in the prod overlay: the schema "
        "lists the admin and training API).",
    )

    # Operations
    drain_grace_s: float = Field(
        25.0, ge=0, description="Longest wait for in-flight work on SIGTERM."
    )
    drain_delay_s: float = Field(0.0, ge=0, description="Least time /ready reports 503 on SIGTERM.")
    log_level: str = Field("INFO", description="Python log level name.")
    access_log: bool = Field(True, description="One JSON line per request.")
    sentry_dsn: str | None = Field(None, description="Enables Sentry error reporting.")
    sentry_traces_rate: float = Field(0.0, ge=0, le=1, description="Sentry trace sample rate.")
    loop: Literal["asyncio", "uvloop"] = Field(
        "asyncio",
        description="Event loop of `python -m mlapi`. uvloop's libuv accepts one connection "
        "per loop iteration, so under load new connections can wait in the listen queue for "
        "seconds (docs/performance.md, Stress test).",
    )
    host: str = Field("0.0.0.0", description="Bind address of `python -m mlapi`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of `python -m mlapi`.")
    probe_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="A second port of `python -m mlapi` that serves only /health, /ready and "
        "/v2/health/*, outside MLAPI_MAX_CONNECTIONS (the bundle sets 8081 for the kubelet). "
        "Unset: the probes are served on MLAPI_PORT only.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    _serving_empty_is_none = field_validator(
        "trial_dir", "trial_store", "models", "model_repository", "probe_port", mode="before"
    )(empty_is_none)

    @field_validator("model_roots")
    @classmethod
    def _roots_not_top(cls, value: str | None) -> str | None:
        for raw in (value or "").split(","):
            if raw.strip() and Path(raw.strip()).resolve() == Path("/"):
                raise ValueError(f"{raw.strip()!r} resolves to /: a model root cannot be /")
        return value

    @field_validator("auto_variants")
    @classmethod
    def _known_variants(cls, value: str) -> str:
        names = [v.strip() for v in value.split(",") if v.strip()]
        unknown = set(names) - set(VARIANT_NAMES)
        if unknown:
            raise ValueError(f"unknown variants {sorted(unknown)}; known: {sorted(VARIANT_NAMES)}")
        return ",".join(names)

    @model_validator(mode="after")
    def _body_timeouts_in_order(self) -> Self:
        if self.body_timeout_s < self.body_idle_timeout_s:
            raise ValueError("body_timeout_s must be >= body_idle_timeout_s")
        return self

    @model_validator(mode="after")
    def _probe_port_apart(self) -> Self:
        if self.probe_port is not None and self.probe_port == self.port:
            raise ValueError("probe_port must differ from port")
        return self

    @model_validator(mode="after")
    def _queue_holds_a_request(self) -> Self:
        if self.max_queue < self.max_texts:
            raise ValueError("max_queue must be >= max_texts, or a full request never fits")
        return self

    @model_validator(mode="after")
    def _keys_when_required(self) -> Self:
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        if self.require_api_keys and not any(key.strip() for key in raw.split(",")):
            raise ValueError(
                "MLAPI_REQUIRE_API_KEYS is true but MLAPI_API_KEYS holds no key "
                "(Secret mlapi-api-keys, key `keys`): refusing to serve the predict routes open"
            )
        return self

    def extra_kinds(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.kind_modules.split(",") if m.strip())

    def resolved_model_dir(self) -> Path:
        return self.model_dir or Path("models") / self.model_id
