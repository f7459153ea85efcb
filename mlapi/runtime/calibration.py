"""The calibration set: sentences, the fp32 model's answers and the export's verdicts.

The export answers every sentence with fp32 and judges each exported variant on all of them
(`Verdict`: its p99 |dp| must hold at 95% confidence, not only on this sample); at start-up
`auto` refuses a variant whose verdict fails and checks the others
again on this CPU, on the first sentences, with a margin (`TRIAL_MARGIN`). Labels must agree
with fp32, scores stay within the bounds below, and a text must get the same answer alone as
inside a batch. Embedding models are judged by cosine to fp32's vectors (`VectorFidelity`).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

CALIBRATION_FILE = "calibration.json"
MIN_AGREEMENT = 0.995  # share of labels equal to fp32's
MAX_P99_DIFF = 0.02  # 99th percentile of |score - fp32 score|
MAX_BATCH_DIFF = 0.01  # a text alone vs inside a batch (non-fp32 variants)
MAX_BATCH_DIFF_FP32 = 1e-5
MIN_P1_COSINE = 0.999  # embeddings: 1st percentile of cosine(vector, fp32 vector)
# The start-up trial sees a small sample, whose p99 is below the true p99 more often than not
# (for 64 sentences, with a chance between 0.53 and 0.87): there the distance bounds (p99
# |dp|, 1 - cosine) are tightened by this factor.
TRIAL_MARGIN = 0.75
VERDICT_CONFIDENCE = 0.95  # the export's verdict: the true p99 |dp| below the bound at 95%

_SUBJECTS = ("The movie", "This film", "The story", "The acting", "The soundtrack", "The ending")
_VERDICTS = (
    "is a wonderful, moving experience",
    "was dull and far too long",
    "is not as bad as the critics say",
    "feels warm, funny and honest",
    "never finds its footing",
    "is a mess from start to finish",
    "left me smiling for days",
    "is fine, I guess",
)
_TAILS = (
    "",
    ", and I would see it again",
    " even though the cast tries hard",
    ", which surprised everyone in the theater",
)


def default_sentences(count: int = 96) -> list[str]:
    """Review-like sentences of mixed polarity and length (the export's default set)."""
    combos = itertools.product(_VERDICTS, _SUBJECTS, _TAILS)
    out = [f"{subject} {verdict}{tail}." for verdict, subject, tail in combos]
    return out[::2][:count]


@dataclass(frozen=True)
class Fidelity:
    """How far a variant's answers are from fp32's, and from its own answers alone."""

    agreement: float
    p99_diff: float
    max_diff: float
    batch_diff: float

    def faithful(self, *, exact: bool, margin: float = 1.0) -> bool:
        """Within the bounds; `margin` < 1 tightens the p99 bound (a small sample)."""
        batch_bound = MAX_BATCH_DIFF_FP32 if exact else MAX_BATCH_DIFF
        return (
            self.agreement >= MIN_AGREEMENT
            and self.p99_diff <= MAX_P99_DIFF * margin
            and self.batch_diff <= batch_bound
        )

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 6) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Verdict:
    """The export's judgement of one variant, on every calibration sentence: the bounds unchanged,
    with the p99 |dp| bound applied to `p99_upper`, the p99's upper confidence bound."""

    fidelity: Fidelity
    sentences: int
    p99_upper: float  # at VERDICT_CONFIDENCE, from the sentences' order statistics

    @property
    def faithful(self) -> bool:
        return self.fidelity.faithful(exact=False) and self.p99_upper <= MAX_P99_DIFF

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.fidelity.as_dict(),
            "p99_upper": round(self.p99_upper, 6),
            "sentences": self.sentences,
            "faithful": self.faithful,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        names = ("agreement", "p99_diff", "max_diff", "batch_diff")
        fidelity = Fidelity(*(float(data[n]) for n in names))
        return cls(fidelity, int(data["sentences"]), float(data["p99_upper"]))


def upper_quantile(
    values: npt.NDArray[np.floating[Any]], q: float = 0.99, confidence: float = VERDICT_CONFIDENCE
) -> float:
    """A distribution-free upper confidence bound of the q-quantile: the smallest order statistic
    X(j+1) with P(Binomial(n, q) <= j) >= confidence (the true quantile lies below it with at
    least that chance). For 1000 values and p99 at 95%, the 5th largest; a sample too small to
    bound the quantile (64 values) gives its maximum."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = len(ordered)
    cdf = 0.0
    for j in range(n):
        cdf += math.exp(
            math.lgamma(n + 1)
            - math.lgamma(j + 1)
            - math.lgamma(n - j + 1)
            + j * math.log(q)
            + (n - j) * math.log1p(-q)
        )
        if cdf >= confidence:
            return float(ordered[j])
    return float(ordered[-1])


@dataclass(frozen=True)
class Calibration:
    sentences: list[str]
    probs: npt.NDArray[np.float32]  # fp32 answers, (len(sentences), n_labels)
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # by variant, e.g. "onnx-int8"

    def save(self, folder: Path) -> Path:
        path = folder / CALIBRATION_FILE
        data = {
            "sentences": self.sentences,
            "probs": self.probs.tolist(),
            "verdicts": {name: v.as_dict() for name, v in self.verdicts.items()},
        }
        path.write_text(json.dumps(data) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        """The stored set; a file from before the export judged its variants (or bounded their
        p99) has no verdicts."""
        path = folder / CALIBRATION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        # A verdict written before the export bounded the p99 at 95% is left to the trial.
        verdicts = {
            name: Verdict.from_dict(v)
            for name, v in data.get("verdicts", {}).items()
            if "p99_upper" in v
        }
        probs = np.asarray(data["probs"], dtype=np.float32)
        return cls(list(data["sentences"]), probs, verdicts)

    def head(self, count: int) -> Calibration:
        """The first `count` sentences, with the verdicts (which cover them all)."""
        return Calibration(self.sentences[:count], self.probs[:count], self.verdicts)


def score_diffs(
    reference: npt.NDArray[np.float32], batched: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Each text's largest |score - fp32 score|."""
    diff: npt.NDArray[np.float32] = np.abs(batched - reference).max(axis=1)
    return diff


def fidelity(
    reference: npt.NDArray[np.float32],
    batched: npt.NDArray[np.float32],
    alone: npt.NDArray[np.float32],
) -> Fidelity:
    """`alone` holds the answers for the first len(alone) texts, each scored by itself."""
    diff = score_diffs(reference, batched)
    agree = float((batched.argmax(axis=1) == reference.argmax(axis=1)).mean())
    batch = float(np.abs(alone - batched[: len(alone)]).max()) if len(alone) else 0.0
    flips = bool(len(alone)) and bool(
        (alone.argmax(axis=1) != batched[: len(alone)].argmax(axis=1)).any()
    )
    return Fidelity(
        agreement=agree,
        p99_diff=float(np.quantile(diff, 0.99)),
        max_diff=float(diff.max()),
        batch_diff=1.0 if flips else batch,
    )


@dataclass(frozen=True)
class VectorFidelity:
    """How far an embedding variant's vectors are from fp32's, by cosine, and alone vs batched."""

    p1_cosine: float
    min_cosine: float
    batch_diff: float  # largest |component| difference of unit vectors, alone vs batched

    def faithful(self, *, exact: bool, margin: float = 1.0) -> bool:
        batch_bound = MAX_BATCH_DIFF_FP32 if exact else MAX_BATCH_DIFF
        return 1 - self.p1_cosine <= (1 - MIN_P1_COSINE) * margin and self.batch_diff <= batch_bound

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 6) for key, value in asdict(self).items()}


def _unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = vectors / np.clip(norms, 1e-12, None)
    return unit


def vector_fidelity(
    reference: npt.NDArray[np.float32],
    batched: npt.NDArray[np.float32],
    alone: npt.NDArray[np.float32],
) -> VectorFidelity:
    """`alone` holds the vectors of the first len(alone) texts, each embedded by itself."""
    cosine = (_unit(reference) * _unit(batched)).sum(axis=1)
    head = _unit(batched[: len(alone)])
    batch = float(np.abs(_unit(alone) - head).max()) if len(alone) else 0.0
    return VectorFidelity(
        p1_cosine=float(np.quantile(cosine, 0.01)),
        min_cosine=float(cosine.min()),
        batch_diff=batch,
    )
