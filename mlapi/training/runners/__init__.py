"""Runners start, watch and stop one training run each; the job service drives them."""

from mlapi.training.runners.base import JobRunner, RunSpec, RunStatus

__all__ = ["JobRunner", "RunSpec", "RunStatus"]
