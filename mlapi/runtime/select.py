"""`MLAPI_VARIANT=auto`: keep the variants that are faithful on this CPU, serve the fastest.

A variant whose export verdict (`calibration.json`, judged on every calibration sentence)
fails is refused without a run. Each other candidate answers the first `TRIAL_SENTENCES`
calibration sentences batched (timed) and its first texts alone; its answers are compared with
fp32's (from the export, else the fp32 variant run here) within the bounds tightened by
`TRIAL_MARGIN`. The result is kept in `trial_dir`, keyed by the model files, the CPU's flags
and the runtime versions, so a restart on the same node skips the trial. Embedding models
(`choose_embedding`) get the same trial, judged by cosine to fp32's vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlapi.runtime.base import Classifier
from mlapi.runtime.calibration import (
    TRIAL_MARGIN,
    Calibration,
    Fidelity,
    default_sentences,
    fidelity,
)
from mlapi.runtime.cpu import cpu_flags
from mlapi.runtime.variants import AUTO_CANDIDATES, VARIANTS, Variant
from mlapi.settings import Settings

logger = logging.getLogger("mlapi.select")
ALONE = 8  # texts also scored one by one (the batch-independence check)
TRIAL_SENTENCES = 64


@dataclass
class Trial:
    variant: str
    sentences_per_s: float | None = None
    fidelity: dict[str, float] = field(default_factory=dict)
    faithful: bool = False
    skipped: str | None = None
    verdict: dict[str, Any] | None = None  # the export's, on every calibration sentence


@dataclass
class Choice:
    variant: str
    cpu: tuple[str, ...]
    trials: list[Trial]
    reused: bool = False
    seconds: float = 0.0
    stored: bool = False  # kept in trial_dir: a fresh process would reuse it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load(variant: Variant, settings: Settings, model_dir: Path) -> Classifier:
    return variant.load(
        model_dir,
        threads=settings.threads,
        max_length=settings.max_length,
        max_batch_size=settings.max_batch_size,
        spin=settings.onnx_spin,
    )


def _versions() -> str:
    found = []
    for package in ("onnxruntime", "torch"):
        try:
            found.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package}=absent")
    return ",".join(found)


def trial_key(model_dir: Path, settings: Settings, kind: str = "") -> str:
    digest = hashlib.sha256(kind.encode())
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and path.suffix in {".onnx", ".safetensors", ".bin", ".json"}:
            stat = path.stat()
            digest.update(
                f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    digest.update(
        f"{cpu_flags()}|{_versions()}|{settings.threads}|{settings.max_length}|"
        f"{settings.auto_variants}".encode()
    )
    return digest.hexdigest()[:20]


def measure(classifier: Classifier, calibration: Calibration) -> tuple[Fidelity, float]:
    """Fidelity against fp32 and sentences/s on the calibration set (batched, after warm-up).

    The warm-up is the timed call itself, once: a runtime's first call at a shape builds its
    kernels (oneDNN's, for every new number of rows of an unpadded batch), which a served
    variant pays once, not per batch."""
    texts = calibration.sentences
    classifier.predict(texts)
    started = time.perf_counter()
    batched = classifier.predict(texts)
    speed = len(texts) / (time.perf_counter() - started)
    alone = np.vstack([classifier.predict([t]) for t in texts[:ALONE]])
    return fidelity(calibration.probs, batched, alone), speed


def _reference(settings: Settings, model_dir: Path) -> tuple[Calibration, dict[str, Classifier]]:
    """The calibration set, and the fp32 model loaded to answer it when the export did not."""
    stored = Calibration.load(model_dir / "onnx")
    if stored is not None:
        return stored.head(TRIAL_SENTENCES), {}
    name = "onnx-fp32" if VARIANTS["onnx-fp32"].missing(model_dir) is None else "torch-fp32"
    reference = _load(VARIANTS[name], settings, model_dir)
    sentences = default_sentences(TRIAL_SENTENCES)
    return Calibration(sentences, reference.predict(sentences)), {name: reference}


def run_trial(settings: Settings, model_dir: Path) -> tuple[Classifier, Choice]:
    started = time.perf_counter()
    calibration, loaded = _reference(settings, model_dir)
    trials: list[Trial] = []
    best: tuple[float, Classifier] | None = None
    wanted = [n for n in settings.auto_variants.split(",") if n]
    candidates = [n for n in wanted if VARIANTS[n].missing(model_dir) is None]
    trials += [
        Trial(n, skipped=VARIANTS[n].missing(model_dir) or "not among MLAPI_AUTO_VARIANTS")
        for n in AUTO_CANDIDATES
        if n not in candidates
    ]
    if not {"onnx-fp32", "torch-fp32"} & set(candidates):  # an fp32 variant is always tried
        candidates.append("torch-fp32")
    for name in candidates:
        variant = VARIANTS[name]
        verdict = calibration.verdicts.get(name)
        if verdict is not None and not verdict.faithful:
            reason = f"not faithful on the export's {verdict.sentences} calibration sentences"
            trials.append(Trial(name, skipped=reason, verdict=verdict.as_dict()))
            logger.info("variant trial", extra={"trial": asdict(trials[-1])})
            continue
        classifier = loaded.pop(name, None) or _load(variant, settings, model_dir)
        found, speed = measure(classifier, calibration)
        faithful = found.faithful(exact=variant.exact, margin=TRIAL_MARGIN)
        trial = Trial(name, round(speed, 1), found.as_dict(), faithful)
        trial.verdict = verdict.as_dict() if verdict is not None else None
        trials.append(trial)
        logger.info("variant trial", extra={"trial": asdict(trial)})
        if trial.faithful and (best is None or speed > best[0]):
            if best is not None:
                best[1].close()
            best = (speed, classifier)
        else:
            classifier.close()
    if best is None:
        raise RuntimeError(f"no variant is faithful on this CPU: {[asdict(t) for t in trials]}")
    choice = Choice(best[1].info.backend, cpu_flags(), trials)
    choice.seconds = round(time.perf_counter() - started, 2)
    return best[1], choice


def store_path(settings: Settings, model_dir: Path, kind: str = "") -> Path | None:
    if not settings.trial_dir:
        return None
    return settings.trial_dir / f"{trial_key(model_dir, settings, kind)}.json"


def stored_variant(settings: Settings, model_dir: Path) -> str | None:
    """The variant this node's stored trial chose, if there is one (it is checked at load)."""
    store = store_path(settings, model_dir)
    try:
        variant = json.loads(store.read_text())["variant"] if store is not None else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return variant if isinstance(variant, str) and variant in VARIANTS else None


def read_stored(store: Path | None) -> Choice | None:
    """The trial kept in `store`, or None (absent or unreadable: the trial runs again)."""
    if store is None or not store.is_file():
        return None
    try:
        data = json.loads(store.read_text())
        return Choice(
            data["variant"],
            tuple(data["cpu"]),
            [Trial(**t) for t in data["trials"]],
            reused=True,
            seconds=float(data.get("seconds", 0.0)),
            stored=True,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring stored trial %s: %s", store, exc)
        return None


def keep(store: Path | None, choice: Choice) -> None:
    """Keep a trial for the next start on this node (`choice.stored` says whether it was)."""
    if store is None:
        return
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(choice.as_dict()) + "\n")
        choice.stored = True
    except OSError as exc:
        logger.warning("could not keep the trial in %s: %s", store, exc)


def choose(settings: Settings, model_dir: Path) -> tuple[Classifier, Choice]:
    """The fastest faithful variant, from the stored trial of this node when there is one."""
    store = store_path(settings, model_dir)
    choice = read_stored(store)
    if choice is not None and choice.variant in VARIANTS:
        return _load(VARIANTS[choice.variant], settings, model_dir), choice
    classifier, choice = run_trial(settings, model_dir)
    keep(store, choice)
    return classifier, choice
