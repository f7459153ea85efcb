"""`MLAPI_VARIANT=auto`: keep the variants that are faithful on this CPU, serve the fastest.

A variant whose export verdict (`calibration.json`, judged on every calibration sentence)
fails is refused without a run. Each other candidate answers the first `TRIAL_SENTENCES`
calibration sentences batched (timed) and its first texts alone; its answers are compared with
fp32's (from the export, else the fp32 variant run here) within the bounds tightened by
`TRIAL_MARGIN`. The result is kept in `trial_dir`, keyed by the model files, the CPU's flags
and the runtime versions, so a restart on the same node skips the trial. A start looks in
`trial_dir` first, then in `trial_store`: the read-only trials an image build ran for the CPU
it saw (`python -m mlapi.tools.trial`), read only when no one but root or this process's user
can write them. Embedding models (`choose_embedding`) get the same trial, judged by cosine to
fp32's vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from mlapi.runtime.base import Classifier, ModelInfo
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
TIMED_PASSES = 3  # a candidate's speed: the fastest of this many batched passes


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
    baked: bool = False  # read from trial_store: the trial the image build ran

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


def _stores(settings: Settings) -> list[Path]:
    """The trial stores, resolved: their files are never part of a key."""
    return [p.resolve() for p in (settings.trial_dir, settings.trial_store) if p is not None]


def trial_key(model_dir: Path, settings: Settings, kind: str = "") -> str:
    """What a kept trial holds for: the model files (name, size, mtime), the kind, the CPU's
    flags, the runtime versions, threads, max_length and the candidates."""
    digest = hashlib.sha256(kind.encode())
    stores = _stores(settings)
    for path in sorted(model_dir.rglob("*")):
        if any(path.resolve().is_relative_to(store) for store in stores):
            continue
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


def timed(predict: Callable[[list[str]], Any], texts: list[str]) -> tuple[Any, float]:
    """`predict(texts)` after one warm-up call, then the fastest of `TIMED_PASSES` calls: its
    answers and sentences/s. The warm-up pays what a runtime's first call at a shape builds
    (oneDNN's kernels, for every new number of rows of an unpadded batch), which a served
    variant pays once, not per batch; the fastest pass is the one the machine's other work
    (a neighbour, a probe, the load generator) disturbed least, so that noise cannot reorder
    variants whose speeds differ."""
    predict(texts)
    best = float("inf")
    answers: Any = None
    for _ in range(TIMED_PASSES):
        started = time.perf_counter()
        answers = predict(texts)
        best = min(best, time.perf_counter() - started)
    return answers, len(texts) / best


def measure(classifier: Classifier, calibration: Calibration) -> tuple[Fidelity, float]:
    """Fidelity against fp32 and sentences/s on the calibration set (`timed`)."""
    texts = calibration.sentences
    batched, speed = timed(classifier.predict, texts)
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


class Served(Protocol):
    """What a trial keeps or closes: a classifier or an embedder."""

    @property
    def info(self) -> ModelInfo: ...

    def close(self) -> None: ...


M = TypeVar("M", bound=Served)


def fastest_faithful(
    trials: list[Trial], tried: Iterator[tuple[Trial, float, M]], started: float
) -> tuple[M, Choice]:
    """The fastest faithful of the `tried` (each trial logged and added to `trials`), every
    other one closed; `started` is when the trial began."""
    best: tuple[float, M] | None = None
    for trial, speed, model in tried:
        trials.append(trial)
        logger.info("variant trial", extra={"trial": asdict(trial)})
        if trial.faithful and (best is None or speed > best[0]):
            if best is not None:
                best[1].close()
            best = (speed, model)
        else:
            model.close()
    if best is None:
        raise RuntimeError(f"no variant is faithful on this CPU: {[asdict(t) for t in trials]}")
    choice = Choice(best[1].info.backend, cpu_flags(), trials)
    choice.seconds = round(time.perf_counter() - started, 2)
    return best[1], choice


def run_trial(settings: Settings, model_dir: Path) -> tuple[Classifier, Choice]:
    started = time.perf_counter()
    calibration, loaded = _reference(settings, model_dir)
    wanted = [n for n in settings.auto_variants.split(",") if n]
    candidates = [n for n in wanted if VARIANTS[n].missing(model_dir) is None]
    trials = [
        Trial(n, skipped=VARIANTS[n].missing(model_dir) or "not among MLAPI_AUTO_VARIANTS")
        for n in AUTO_CANDIDATES
        if n not in candidates
    ]
    if not {"onnx-fp32", "torch-fp32"} & set(candidates):  # an fp32 variant is always tried
        candidates.append("torch-fp32")

    def tried() -> Iterator[tuple[Trial, float, Classifier]]:
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
            yield trial, speed, classifier

    return fastest_faithful(trials, tried(), started)


def store_path(settings: Settings, model_dir: Path, kind: str = "") -> Path | None:
    """Where this node keeps the trial (in `trial_dir`), or None when it keeps none."""
    if not settings.trial_dir:
        return None
    return settings.trial_dir / f"{trial_key(model_dir, settings, kind)}.json"


def trusted(path: Path) -> bool:
    """`path` and its folder can be written by no one but root or this process's user: a
    stored trial decides what serves, so none is read from where others could write it."""
    try:
        for item in (path, path.parent):
            info = item.stat()
            if info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022:
                return False
    except OSError:
        return False
    return True


def _kept(settings: Settings, model_dir: Path, kind: str = "") -> list[tuple[Path, bool]]:
    """The kept trials a start may read, in order: this node's (`trial_dir`), then the image's
    (`trial_store`, when trusted); one key for both."""
    if not settings.trial_dir and not settings.trial_store:
        return []
    name = f"{trial_key(model_dir, settings, kind)}.json"
    found = []
    if settings.trial_dir and (settings.trial_dir / name).is_file():
        found.append((settings.trial_dir / name, False))
    if settings.trial_store and (settings.trial_store / name).is_file():
        baked = settings.trial_store / name
        if trusted(baked):
            found.append((baked, True))
        else:
            logger.warning("ignoring stored trial %s: others can write it or its folder", baked)
    return found


def find_stored(settings: Settings, model_dir: Path, kind: str = "") -> Choice | None:
    """This node's kept trial (`trial_dir`), else the image's (`trial_store`), else None."""
    for path, baked in _kept(settings, model_dir, kind):
        choice = read_stored(path)
        if choice is not None:
            choice.baked = baked
            return choice
    return None


def stored_variant(settings: Settings, model_dir: Path) -> str | None:
    """The variant a kept trial chose, if there is one (it is checked at load)."""
    choice = find_stored(settings, model_dir)
    return choice.variant if choice is not None and choice.variant in VARIANTS else None


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
    """The fastest faithful variant, from a stored trial when there is one."""
    choice = find_stored(settings, model_dir)
    if choice is not None and choice.variant in VARIANTS:
        return _load(VARIANTS[choice.variant], settings, model_dir), choice
    classifier, choice = run_trial(settings, model_dir)
    keep(store_path(settings, model_dir), choice)
    return classifier, choice
