"""Model runtimes behind one small interface (`Classifier`), one variant chosen per CPU."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from mlapi.runtime.base import Classifier, ModelInfo, Probs
from mlapi.runtime.cpu import cpu_flags
from mlapi.runtime.variants import VARIANTS
from mlapi.settings import Settings

__all__ = ["Classifier", "ClassifierLoader", "ModelInfo", "Probs", "load_classifier"]
logger = logging.getLogger("mlapi.runtime")
# What builds a text classifier from the settings and its folder: `load_classifier`, or a fake.
ClassifierLoader = Callable[[Settings, Path], Classifier]


def load_classifier(settings: Settings, model_dir: Path) -> Classifier:
    """Build the configured variant (or run the `auto` trial). Heavy: call it from a thread."""
    if settings.variant == "auto":
        from mlapi.runtime.select import choose

        classifier, choice = choose(settings, model_dir)
        selection = choice.as_dict()
    else:
        variant = VARIANTS[settings.variant]
        missing = variant.missing(model_dir)
        if missing is not None and "CPU" not in missing:  # a slow bf16 is still the user's call
            raise FileNotFoundError(f"variant {variant.name} cannot run: {missing}")
        classifier = variant.load(
            model_dir,
            threads=settings.threads,
            max_length=settings.max_length,
            max_batch_size=settings.max_batch_size,
            spin=settings.onnx_spin,
        )
        selection = {"variant": variant.name, "cpu": cpu_flags(), "trials": [], "fixed": True}
    classifier.info = dataclasses.replace(classifier.info, selection=selection)
    return classifier
