"""`MLAPI_VARIANT=auto` for embedding models: the fastest variant whose vectors stay with fp32's.

The same start-up trial as the classifiers' (`mlapi.runtime.select`): every candidate embeds
the calibration sentences batched (timed) and its first texts alone; it is faithful when the
1st percentile of its cosine to fp32's vectors and its alone-vs-batched difference stay within
the bounds of `mlapi.runtime.calibration` (`VectorFidelity`, distances tightened by
`TRIAL_MARGIN`). The embedding export writes no calibration set: the fp32 vectors come from
the fp32 variant run here. The result is kept in `trial_dir` keyed like the classifiers', and
read from `trial_dir` or the image's `trial_store` as theirs are.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mlapi.runtime.calibration import (
    TRIAL_MARGIN,
    VectorFidelity,
    default_sentences,
    vector_fidelity,
)
from mlapi.runtime.cpu import has_fast_bf16
from mlapi.runtime.embedder import EMBEDDING_FILES, Embedder, SentenceTransformerFolder
from mlapi.runtime.select import (
    ALONE,
    TRIAL_SENTENCES,
    Choice,
    Trial,
    fastest_faithful,
    find_stored,
    keep,
    store_path,
    timed,
)
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.select")
# What an embedding model can serve, in the order `auto` tries them.
EMBEDDING_VARIANTS = ("onnx-int8", "onnx-int8-mixed", "onnx-fp32", "torch-bf16", "torch-fp32")
KIND = "embedding"


def missing(name: str, folder: SentenceTransformerFolder) -> str | None:
    """Why variant `name` cannot run for this folder here, or None when it can."""
    runtime, precision = name.split("-", 1)
    if importlib.util.find_spec("onnxruntime" if runtime == "onnx" else "torch") is None:
        return f"{runtime} runtime not installed"
    if runtime == "onnx":
        path = folder.transformer / "onnx" / EMBEDDING_FILES[precision]
        return None if path.is_file() else f"{path.name} not exported"
    if not any(folder.transformer.glob("*.safetensors")) and not any(
        folder.transformer.glob("pytorch_model*.bin")
    ):
        return "no torch weights in the folder"
    if precision == "bf16" and not has_fast_bf16():
        return "CPU has no AMX or AVX512_BF16"
    return None


def load(name: str, folder: SentenceTransformerFolder, settings: Settings) -> Embedder:
    return Embedder(
        folder,
        runtime=name,
        threads=settings.threads,
        max_length=settings.max_length,
        max_batch_size=settings.max_batch_size,
    )


def measure(
    model: Embedder, sentences: list[str], reference: np.ndarray
) -> tuple[VectorFidelity, float]:
    """Fidelity against fp32's vectors and sentences/s (`mlapi.runtime.select.timed`)."""
    batched, speed = timed(model.predict, sentences)
    alone = np.vstack([model.predict([t]) for t in sentences[:ALONE]])
    return vector_fidelity(reference, batched, alone), speed


def run_trial(settings: Settings, root: Path) -> tuple[Embedder, Choice]:
    started = time.perf_counter()
    folder = SentenceTransformerFolder.read(root)
    wanted = [n for n in settings.auto_variants.split(",") if n in EMBEDDING_VARIANTS]
    candidates = [n for n in wanted if missing(n, folder) is None]
    trials = [
        Trial(n, skipped=missing(n, folder) or "not among MLAPI_AUTO_VARIANTS")
        for n in EMBEDDING_VARIANTS
        if n not in candidates
    ]
    name = "onnx-fp32" if missing("onnx-fp32", folder) is None else "torch-fp32"
    if name not in candidates:  # an fp32 variant is always tried
        candidates.append(name)
    sentences = default_sentences(TRIAL_SENTENCES)
    loaded = {name: load(name, folder, settings)}
    reference = loaded[name].predict(sentences)

    def tried() -> Iterator[tuple[Trial, float, Embedder]]:
        for candidate in candidates:
            model = loaded.pop(candidate, None) or load(candidate, folder, settings)
            found, speed = measure(model, sentences, reference)
            exact = candidate.endswith("fp32")
            faithful = found.faithful(exact=exact, margin=TRIAL_MARGIN)
            yield Trial(candidate, round(speed, 1), found.as_dict(), faithful), speed, model

    return fastest_faithful(trials, tried(), started)


def choose_embedding(settings: Settings, root: Path) -> tuple[Embedder, Choice]:
    """The fastest faithful embedding variant, from a stored trial when there is one."""
    choice = find_stored(settings, root, KIND)
    if choice is not None and choice.variant in EMBEDDING_VARIANTS:
        return load(choice.variant, SentenceTransformerFolder.read(root), settings), choice
    model, choice = run_trial(settings, root)
    keep(store_path(settings, root, KIND), choice)
    return model, choice
