"""Model-only throughput: the classifier alone on the cold sentences, no HTTP, no cache."""

from __future__ import annotations

import time
from pathlib import Path

from bench.sentences import cold_sentences
from mlapi.runtime import load_classifier
from mlapi.settings import Settings


def throughput(settings: Settings, model_dir: Path, seconds: float = 10.0) -> dict[str, float]:
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
    return {
        "batch_size": batch,
        "sentences_per_s": round(done / elapsed, 1),
        "batch1_sentences_per_s": round(single / (time.perf_counter() - one_started), 1),
    }
