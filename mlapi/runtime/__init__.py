"""Model runtimes behind one small interface (`Classifier`)."""

from __future__ import annotations

from pathlib import Path

from mlapi.runtime.base import Classifier, ModelInfo, Probs
from mlapi.settings import Settings

__all__ = ["Classifier", "ModelInfo", "Probs", "load_classifier"]


def load_classifier(settings: Settings, model_dir: Path) -> Classifier:
    """Build the configured backend. Heavy: call it from a worker thread."""
    if settings.backend == "onnx":
        from mlapi.runtime.onnx_backend import OnnxClassifier

        return OnnxClassifier(
            model_dir,
            variant=settings.onnx_variant,
            threads=settings.threads,
            max_length=settings.max_length,
            max_batch_size=settings.max_batch_size,
            spin=settings.onnx_spin,
        )
    from mlapi.runtime.torch_backend import TorchClassifier

    return TorchClassifier(
        model_dir,
        threads=settings.threads,
        max_length=settings.max_length,
        max_batch_size=settings.max_batch_size,
    )
