"""Runners start, watch and stop one training run each; the job service drives them."""

from mlapi.training.runners.base import Runner, RunSpec, RunStatus

__all__ = ["RunSpec", "RunStatus", "Runner"]
