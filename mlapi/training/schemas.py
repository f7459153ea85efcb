"""A training job as the API takes it (TrainRequest) and as it answers (JobRecord)."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE: frozenset[str] = frozenset({"queued", "running"})
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
COLUMN = re.compile(r"^[^\t,\n\r]{1,64}$")
JOB_ID = re.compile(r"[0-9a-f]{16}")  # creation time in whole seconds (8 hex), 8 random hex
_RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}


def forward(stored: str, new: str) -> bool:
    """Whether a record in state `stored` may be written in state `new`: queued, running, then
    one end, which never changes again."""
    if stored in FINISHED:
        return new == stored
    return _RANK[new] >= _RANK[stored]


def new_job_id(now: float) -> str:
    return f"{int(now):08x}{secrets.token_hex(4)}"


def created_at_of(job_id: str) -> float | None:
    """When a job was created, read from its id; None for what is no job id."""
    return float(int(job_id[:8], 16)) if JOB_ID.fullmatch(job_id) else None


class Hyperparameters(BaseModel):
    """The trainer's own options (`python -m trainer --help`), with bounds that fail fast."""

    model_config = ConfigDict(extra="forbid")

    max_length: int = Field(64, ge=8, le=512, description="Token limit per text.")
    epochs: float = Field(1.0, gt=0, le=100, description="Passes over the training set.")
    max_steps: int | None = Field(None, ge=1, le=1_000_000, description="Overrides epochs.")
    batch_size: int = Field(32, ge=1, le=1024)
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    eval_size: float = Field(0.05, gt=0, description="Held-out fraction (<1) or count.")
    max_train_examples: int | None = Field(None, ge=1)
    save_every: int = Field(200, ge=1, description="Checkpoint interval in steps.")
    text_column: str = Field("sentence", pattern=COLUMN.pattern)
    label_column: str = Field("label", pattern=COLUMN.pattern)
    export_onnx: bool = Field(False, description="Also write the ONNX fp32/int8 exports.")

    @field_validator("eval_size")
    @classmethod
    def _count_or_fraction(cls, value: float) -> float:
        if value >= 1 and value != int(value):
            raise ValueError("eval_size is a fraction below 1 or a whole count")
        return value

    def args(self) -> list[str]:
        """`--flag=value` arguments of `python -m trainer` (defaults included, explicit)."""
        out = []
        for name, value in self.model_dump().items():
            flag = "--" + name.replace("_", "-")
            if value is None or value is False:
                continue
            out.append(flag if value is True else f"{flag}={value}")
        return out


class TrainRequest(BaseModel):
    """POST /train. The dataset is a path the runner can read, or the file itself (inline)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        pattern=MODEL_NAME.pattern,
        description="Registry name the trained model is served under (e.g. `default`).",
    )
    base_model: str = Field(
        min_length=1,
        max_length=1024,
        description="Model folder to fine-tune (an absolute path the runner can read).",
    )
    dataset: str | None = Field(
        None, max_length=1024, description="Absolute path of a .tsv or .csv file with a header."
    )
    dataset_content: str | None = Field(
        None, description="The .tsv/.csv file itself (MLAPI_TRAIN_MAX_UPLOAD_BYTES at most)."
    )
    dataset_format: Literal["tsv", "csv"] = Field("tsv", description="Of dataset_content.")
    labels: list[str] = Field(
        ["NEGATIVE", "POSITIVE"], min_length=2, max_length=1000, description="In label-id order."
    )
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    activate: bool = Field(False, description="Serve the model when the job succeeds.")
    min_eval_accuracy: float = Field(
        0.0, ge=0, le=1, description="Activate only at this held-out accuracy or above."
    )
    model_settings: dict[str, Any] | None = Field(
        None, description="Per-model settings for the activation (variant, max_batch_size, ...)."
    )

    @field_validator("base_model", "dataset")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and (not Path(value).is_absolute() or ".." in Path(value).parts):
            raise ValueError("must be an absolute path without '..'")
        return value

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, value: list[str]) -> list[str]:
        labels = [label.strip() for label in value]
        if any(not label or "," in label for label in labels):
            raise ValueError("labels must be non-empty and hold no comma")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct")
        return labels

    @model_validator(mode="after")
    def _one_dataset(self) -> TrainRequest:
        if (self.dataset is None) == (self.dataset_content is None):
            raise ValueError("give exactly one of dataset (a path) and dataset_content")
        if self.dataset is not None and Path(self.dataset).suffix.lower() not in {
            ".tsv",
            ".tab",
            ".csv",
        }:
            raise ValueError("dataset must be a .tsv, .tab or .csv file")
        return self


class Progress(BaseModel):
    step: int = 0
    total_steps: int | None = None
    loss: float | None = None
    eval_accuracy: float | None = None


class Activation(BaseModel):
    """What became of the trained model: serving (version, fingerprint) or why not."""

    activated: bool
    reason: str
    version: str | None = None
    fingerprint: str | None = None
    at: float = Field(default_factory=time.time, description="When it was decided.")


class JobRecord(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    id: str
    state: JobState
    runner: str
    model: str
    request: TrainRequest
    owner: str = Field(description="The replica that supervises the run.")
    progress: Progress = Field(default_factory=Progress)
    output_path: str
    error: str | None = None
    activation: Activation | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float
    expires_at: float | None = Field(None, description="When the record is dropped (finished).")
    generation: int = Field(
        0, ge=0, description="Raised by one at each write; a write over another one is refused."
    )


class JobList(BaseModel):
    jobs: list[JobRecord]
