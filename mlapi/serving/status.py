"""What the service says about its models: cards, the index, live figures and the fleet's view.

`/model`, `/models`, `/stats`, v2's model metadata and repository index, and the load log line
answer with these. A field declared with `_absent` is left out of an answer when it has no
value; every other field is always there, `null` included.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ModelState = Literal["READY", "UNAVAILABLE"]


def _absent(description: str) -> Any:
    """A field the answer leaves out, rather than `null`, when it has no value."""
    return Field(None, description=description, exclude_if=lambda value: value is None)


# --- cards -----------------------------------------------------------------------------------


class ModelSummary(BaseModel):
    """What `/model` says of the default model."""

    model: str = Field(description="The registry name.")
    kind: str = Field(description="`text-classifier`, `embedding`, `tabular`, ...")
    version: str
    name: str = Field(description="The model's own name, from its folder.")
    backend: str = Field(description="The served variant, e.g. onnx-int8.")
    fingerprint: str = Field(description="Hash of the files and settings that decide answers.")
    labels: list[str]
    max_length: int = Field(description="Tokens per text; 0 for a model of numbers.")
    selection: dict[str, Any] | None = Field(
        None, description="CPU flags and the start-up trial of every candidate variant."
    )


class ModelCard(ModelSummary):
    """One loaded version: the summary, where and when it was loaded, then what its kind
    adds (`n_features`, `dimensions`, `pooling`, ...) as further fields."""

    model_config = ConfigDict(extra="allow")

    selection: dict[str, Any] | None = _absent(
        "CPU flags and the start-up trial of every candidate variant (text classifiers and "
        "embedding models)."
    )
    path: str = Field(description="The model folder.")
    loaded_at: float = Field(description="Unix time the version was loaded.")


# --- the index -------------------------------------------------------------------------------


class ModelIndexEntry(BaseModel):
    """One name in the registry (v2's repository index)."""

    name: str
    version: str = Field(description="Serving, or the one that failed to load.")
    state: ModelState
    reason: str | None = _absent("Why the last load failed.")


# --- the fleet -------------------------------------------------------------------------------


SHARE = "Share of distinct texts the canary answers, 0-100."


class CanaryVersion(BaseModel):
    """A canary: its version and share."""

    version: str
    percent: float = Field(description=SHARE)


class DesiredStatus(BaseModel):
    """The fleet's desired state of a name."""

    version: str | None = Field(description="None: unloaded everywhere.")
    path: str | None
    canary: CanaryVersion | None
    history: list[str] = Field(description="Earlier versions, newest first (for a rollback).")
    generation: int


class ServingStatus(BaseModel):
    """What this replica serves of a name."""

    version: str
    canary: CanaryVersion | None


class FleetStatus(BaseModel):
    """A name as the fleet wants it and as this replica serves it."""

    desired: DesiredStatus | None
    serving: ServingStatus | None
    skew: bool = Field(description="This replica does not serve what the fleet wants.")
    error: str | None = Field(description="Why this replica's last attempt to converge failed.")
    shared: bool = Field(description="The desired state is shared by every replica (Redis).")


# --- /models ---------------------------------------------------------------------------------


class ModelEntry(ModelIndexEntry):
    """One name in `/models`: the index entry, its card when ready, the fleet's view."""

    card: ModelCard | None = _absent("The serving version (READY only).")
    fleet: FleetStatus | None = _absent("The fleet's view (absent without a fleet).")


class ModelList(BaseModel):
    """`/models`."""

    default: str = Field(description="The model `/predict` serves.")
    models: list[ModelEntry]


# --- /stats ----------------------------------------------------------------------------------


class LatencyWindow(BaseModel):
    """Request latencies in milliseconds over the last `window_s` seconds."""

    window_s: float
    count: int
    p50: float | None
    p95: float | None
    p99: float | None


class CacheFigures(BaseModel):
    """One cache tier's lookups."""

    hits: int
    misses: int
    hit_ratio: float | None = Field(description="None before the first lookup.")


class WorkerStatus(BaseModel):
    """One worker process of a version."""

    index: int
    pid: int | None
    state: str = Field(description="starting, idle, busy, failed, ...")
    model_version: str
    batches: int
    started_at: float | None
    last_seen: float | None
    exit_code: int | None
    restarts: int


class VersionFigures(BaseModel):
    """Live figures of one loaded version."""

    version: str
    fingerprint: str
    kind: str
    loaded_at: float
    queue_depth: int = Field(description="Texts waiting for a batch.")
    inflight: int = Field(description="Requests holding this version.")
    requests: int
    items: int
    errors: int
    batches: int
    mean_batch_size: float
    inference_s: float = Field(description="Seconds spent in the model.")
    tokens: int
    padded_tokens: int = Field(description="Tokens once each batch is padded to its longest.")
    padding_fraction: float | None
    latency_ms: LatencyWindow
    cache: dict[str, CacheFigures] = Field(description="Per tier: memory, redis.")
    redis: Literal["up", "paused"] | None = Field(description="None: no Redis tier.")
    workers: list[WorkerStatus] = Field(description="Empty when the model runs in-process.")
    canary: CanaryFigures | None


class CanaryShare(BaseModel):
    percent: float = Field(description=SHARE)


class CanaryFigures(VersionFigures, CanaryShare):
    """A canary's figures, its share first (the bases in this order put `percent` first)."""


class ModelFigures(VersionFigures):
    """`/stats` of a loaded model: its serving version's figures, the fleet's view."""

    fleet: FleetStatus | None = _absent("The fleet's view (absent without a fleet).")


class UnavailableModel(BaseModel):
    """`/stats` of a model that is not loaded."""

    state: Literal["UNAVAILABLE"] = "UNAVAILABLE"
    fleet: FleetStatus | None = _absent("The fleet's view (absent without a fleet).")


class ServiceStats(BaseModel):
    """`/stats`: the replica, then every model by name."""

    service: str
    version: str = Field(description="mlapi's version.")
    pid: int
    pod: str = Field(description="POD_NAME or HOSTNAME.")
    uptime_s: float
    ready: bool
    inflight_requests: int
    default_model: str | None
    models: dict[str, ModelFigures | UnavailableModel]
