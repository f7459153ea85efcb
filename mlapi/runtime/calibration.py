"""The calibration set: sentences and the fp32 model's answers, written by the export.

At start-up every candidate variant is checked against it: labels must agree with fp32, scores
stay within the bounds below, and a text must get the same answer alone as inside a batch.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

CALIBRATION_FILE = "calibration.json"
MIN_AGREEMENT = 0.995  # share of labels equal to fp32's
MAX_P99_DIFF = 0.02  # 99th percentile of |score - fp32 score|
MAX_BATCH_DIFF = 0.01  # a text alone vs inside a batch (non-fp32 variants)
MAX_BATCH_DIFF_FP32 = 1e-5

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
class Calibration:
    sentences: list[str]
    probs: npt.NDArray[np.float32]  # fp32 answers, (len(sentences), n_labels)

    def save(self, folder: Path) -> Path:
        path = folder / CALIBRATION_FILE
        data = {"sentences": self.sentences, "probs": self.probs.tolist()}
        path.write_text(json.dumps(data) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        path = folder / CALIBRATION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(list(data["sentences"]), np.asarray(data["probs"], dtype=np.float32))


@dataclass(frozen=True)
class Fidelity:
    """How far a variant's answers are from fp32's, and from its own answers alone."""

    agreement: float
    p99_diff: float
    max_diff: float
    batch_diff: float

    def faithful(self, *, exact: bool) -> bool:
        batch_bound = MAX_BATCH_DIFF_FP32 if exact else MAX_BATCH_DIFF
        return (
            self.agreement >= MIN_AGREEMENT
            and self.p99_diff <= MAX_P99_DIFF
            and self.batch_diff <= batch_bound
        )

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 6) for key, value in asdict(self).items()}


def fidelity(
    reference: npt.NDArray[np.float32],
    batched: npt.NDArray[np.float32],
    alone: npt.NDArray[np.float32],
) -> Fidelity:
    """`alone` holds the answers for the first len(alone) texts, each scored by itself."""
    diff = np.abs(batched - reference).max(axis=1)
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
