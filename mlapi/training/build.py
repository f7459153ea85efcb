"""Builds the job service the settings ask for: its store and its runner."""

from __future__ import annotations

from collections.abc import Callable

from mlapi.fleet.control import Fleet
from mlapi.serving.registry import Registry
from mlapi.settings import Settings
from mlapi.shared.jobs import RedisJobStore
from mlapi.shared.stores import shared_or_local
from mlapi.training.runners import JobRunner
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
    path = settings.train_db or settings.train_dir / "jobs.sqlite3"
    return shared_or_local(settings, RedisJobStore, lambda: SQLiteJobStore(path))


def build_runner(settings: Settings) -> JobRunner:
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
