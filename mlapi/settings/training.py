"""Training settings: jobs started with `POST /train`, run locally or as Kubernetes Jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlapi.settings.fields import empty_is_none


class TrainingSettings(BaseSettings):
    """How training jobs run."""

    model_config = SettingsConfigDict(env_prefix="MLAPI_", protected_namespaces=())

    train_runner: Literal["local", "kubernetes"] = Field(
        "local",
        description="`local`: `python -m trainer` as a child process (needs the `train` extra); "
        "`kubernetes`: a batch/v1 Job per run from MLAPI_TRAIN_JOB_TEMPLATE.",
    )
    train_dir: Path = Field(
        Path("/tmp/mlapi-train"),
        description="One folder per job (uploaded data, log, model output). Kubernetes runner: "
        "on the trainer's PersistentVolumeClaim, mounted here and in the Job at the same path.",
    )
    train_db: Path | None = Field(
        None,
        description="SQLite file of the job records (unset: <train_dir>/jobs.sqlite3); with "
        "MLAPI_REDIS_URL set the records are kept in Redis instead, shared by all replicas.",
    )
    train_ttl_s: int = Field(
        7 * 86_400, ge=1, description="A finished job's record is dropped this long after it ends."
    )
    train_data_roots: str | None = Field(
        None,
        description="Comma-separated folders that a job's `dataset` path may lie in (an inline "
        "dataset is written under MLAPI_TRAIN_DIR). Unset: MLAPI_TRAIN_DIR only.",
    )
    train_max_upload_bytes: int = Field(
        10_000_000, ge=1, description="Largest dataset sent inline with POST /train."
    )
    train_max_running: int = Field(
        1, ge=1, description="Runs at once per replica (more wait `queued`)."
    )
    train_threads: int = Field(1, ge=1, description="Local runner: the trainer's CPU threads.")
    train_nice: int = Field(
        10, ge=0, le=19, description="Local runner: niceness added to the trainer process."
    )
    train_timeout_s: int = Field(
        21_600, ge=1, description="A run is stopped after this long (Job activeDeadlineSeconds)."
    )
    train_poll_s: float = Field(2.0, gt=0, description="How often runs are checked.")
    train_stale_s: float = Field(
        60.0,
        gt=0,
        description="A run whose replica has not checked it for this long is taken over "
        "(Kubernetes) or failed (a local process died with its replica).",
    )
    train_job_template: Path | None = Field(
        None,
        description="Kubernetes runner: the Job template (unset: .k8s/jobs/trainer-job.yaml).",
    )
    train_namespace: str | None = Field(
        None, description="Kubernetes runner: the Jobs' namespace (unset: the pod's own)."
    )
    train_image: str | None = Field(
        None, description="Kubernetes runner: the trainer image (unset: the template's)."
    )
    train_backoff_limit: int = Field(1, ge=0, description="Kubernetes runner: Job backoffLimit.")
    train_job_ttl_s: int = Field(
        86_400, ge=0, description="Kubernetes runner: the Job's ttlSecondsAfterFinished."
    )

    _training_empty_is_none = field_validator("train_db", "train_job_template", mode="before")(
        empty_is_none
    )
