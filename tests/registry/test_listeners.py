"""A listener that fails on a load (metrics, logs, a custom one) does not fail the swap: the
new version serves and the old one is drained and closed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mlapi.kinds import discover
from mlapi.kinds.text_classifier import TextClassifierKind
from mlapi.serving.deployment import Deployment
from mlapi.serving.registry import Registry
from mlapi.serving.version import ModelVersion
from mlapi.settings import Settings
from tests.fakes import fake_loader


class FailingListener:
    def __init__(self) -> None:
        self.loads = 0

    def loaded(self, new: Deployment, old: Deployment | None, seconds: float) -> None:
        self.loads += 1
        raise RuntimeError("listener fault")

    def failed(self, spec: ModelVersion, error: str) -> None:
        raise RuntimeError("listener fault")

    def unloaded(self, name: str) -> None:
        raise RuntimeError("listener fault")


def test_a_failing_listener_neither_fails_the_swap_nor_keeps_the_old_version(
    model_dir: Path,
) -> None:
    settings = Settings(workers=0, trial_dir=None, warmup_batches=1, model_roots=str(model_dir))
    _, loader = fake_loader()
    kinds = discover(())
    kinds["text-classifier"] = TextClassifierKind(loader)
    listener = FailingListener()
    first = ModelVersion(name="default", path=model_dir)
    registry = Registry(settings, [first], kinds, "default", listeners=(listener,))

    async def scenario() -> None:
        await registry.start()
        old = registry.get("default")
        new = await registry.load(first.model_copy(update={"version": "2"}))
        assert registry.get("default") is new and new.version.version == "2"
        assert listener.loads == 2
        with pytest.raises(RuntimeError, match="after shutdown"):  # the old one was closed
            await old.executor(["a text"])
        await registry.close(0)

    asyncio.run(scenario())
