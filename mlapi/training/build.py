"""Builds the job service the settings ask for: its store and its runner."""

from __future__ import annotations

from collections.abc import Callable

from mlapi.fleet.control import Fleet
from mlapi.serving.registry import Registry
from mlapi.settings import Settings
from mlapi.shared.signing import signer_for
from mlapi.training.redis_store import RedisJobStore
from mlapi.training.runners import Runner
from mlapi.training.runners.kubernetes import (
    DEFAULT_TEMPLATE,
    KubernetesRunner,
    in_cluster_api,
    load_template,
    own_namespace,
)
from mlapi.training.runners.local import LocalRunner
from mlapi.training.service import JobService
from mlapi.training.store import JobStore, SQLiteJobStore


def build_store(settings: Settings) -> JobStore:
    """Redis (shared by the replicas) when a signing key is set; else SQLite on this replica."""
    signer = signer_for(settings)
    if settings.redis_url and signer is not None:
        password = settings.redis_password
        return RedisJobStore(
            settings.redis_url,
            signer,
            password=password.get_secret_value() if password else None,
        )
    return SQLiteJobStore(settings.train_db or settings.train_dir / "jobs.sqlite3")


def build_runner(settings: Settings) -> Runner:
    if settings.train_runner == "local":
        return LocalRunner(
            threads=settings.train_threads,
            nice=settings.train_nice,
            timeout_s=settings.train_timeout_s,
        )
    template = load_template(settings.train_job_template or DEFAULT_TEMPLATE, settings.train_dir)
    return KubernetesRunner(
        in_cluster_api(),
        settings.train_namespace or own_namespace(),
        template,
        image=settings.train_image,
        backoff_limit=settings.train_backoff_limit,
        ttl_s=settings.train_job_ttl_s,
        deadline_s=settings.train_timeout_s,
    )


def build_job_service(
    settings: Settings,
    registry: Callable[[], Registry | None],
    fleet: Callable[[], Fleet | None] = lambda: None,
) -> JobService:
    return JobService(
        settings, build_store(settings), build_runner(settings), registry, fleet=fleet
    )
