"""Model-only throughput: the classifier alone on the cold sentences, no HTTP, no cache."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.sentences import cold_sentences
from bench.tokens import Replay, replay
from mlapi.runtime import load_classifier
from mlapi.runtime.base import TextModel
from mlapi.settings import Settings


def throughput(
    settings: Settings, model_dir: Path, seconds: float = 10.0, real: list[str] | None = None
) -> dict[str, Any]:
    """Seed sentences at max_batch_size and at batch 1; with `real`, those sentences too."""
    classifier = load_classifier(settings, model_dir)
    batch = settings.max_batch_size
    texts = cold_sentences(5000, tag="model-only")
    classifier.predict(texts[:batch])  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        chunk = texts[done % (len(texts) - batch) :][:batch]
        classifier.predict(chunk)
        done += len(chunk)
    elapsed = time.perf_counter() - started
    single, one_started = 0, time.perf_counter()
    while time.perf_counter() - one_started < seconds / 4:
        classifier.predict([texts[single]])
        single += 1
    out: dict[str, Any] = {
        "batch_size": batch,
        "sentences_per_s": round(done / elapsed, 1),
        "batch1_sentences_per_s": round(single / (time.perf_counter() - one_started), 1),
    }
    if real:
        out["real_text"] = real_text(classifier, real, batch, seconds)
    classifier.close()
    return out


def real_text(model: TextModel, texts: list[str], batch: int, seconds: float) -> dict[str, float]:
    """Batches of `batch` sentences in order; tokens as the served tokenizer counts them."""
    model.predict(texts[:batch])  # warm-up
    lengths: list[int] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        start = len(lengths) % max(1, len(texts) - batch)
        lengths += model.predict_counted(texts[start : start + batch])[1]
    elapsed = time.perf_counter() - started
    passes = replay(lengths, batch, batch)
    if model.packed:  # every forward runs its real tokens only
        passes = Replay(passes.real_tokens, passes.real_tokens, -(-len(lengths) // batch))
    return {
        "packed": model.packed,
        "sentences_per_s": round(len(lengths) / elapsed, 1),
        "tokens_per_s": round(sum(lengths) / elapsed, 1),
        "mean_tokens": round(sum(lengths) / len(lengths), 2),
        "padding_fraction": round(passes.padding_fraction, 4),
        "tokens_per_forward": round(passes.tokens_per_forward, 1),
    }
