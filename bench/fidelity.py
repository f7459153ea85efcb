"""`python -m bench.fidelity MODEL_DIR`: every variant against fp32 on held-out sentences.

Scores the sentences a trained model never saw (the trainer's held-out split of --data, same
seed and size) in batches of 32 as served, and 64 of them alone, with every variant that can
run here. Run it natively and under `../shared/tools/as-cpu haswell` to cover both kinds of
int8 kernels. Writes bench/out/fidelity-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.machine import describe, save
from mlapi.runtime import Classifier, load_classifier
from mlapi.runtime.calibration import fidelity
from mlapi.runtime.variants import VARIANTS
from mlapi.settings import Settings

OUT = Path(__file__).resolve().parent / "out"
SST2 = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sst2" / "train.tsv"


def held_out(data: Path, eval_size: int, seed: int, count: int) -> list[str]:
    from trainer.data import read_table, split_eval

    examples = read_table(data, ("NEGATIVE", "POSITIVE"))
    return [e.text for e in split_eval(examples, eval_size, seed)[1][:count]]


def served(model: Classifier, texts: list[str], batch: int = 32) -> npt.NDArray[np.float32]:
    return np.vstack([model.predict(texts[i : i + batch]) for i in range(0, len(texts), batch)])


def compare(
    model_dir: Path, texts: list[str], alone: int = 64, variants: list[str] | None = None
) -> dict[str, Any]:
    """The first variant is the reference (default: torch fp32, the trained model itself)."""
    results: dict[str, Any] = {}
    reference: npt.NDArray[np.float32] | None = None
    for name in variants or ("torch-fp32", *(n for n in VARIANTS if n != "torch-fp32")):
        missing = VARIANTS[name].missing(model_dir)
        if missing is not None:
            results[name] = {"skipped": missing}
            continue
        settings = Settings(model_dir=model_dir, variant=name, trial_dir=None)
        model = load_classifier(settings, model_dir)
        started = time.perf_counter()
        batched = served(model, texts)
        seconds = time.perf_counter() - started
        single = np.vstack([model.predict([t]) for t in texts[:alone]])
        model.close()
        if reference is None:
            reference = batched
        found = fidelity(reference, batched, single)
        exact = VARIANTS[name].exact
        results[name] = {
            **found.as_dict(),
            "faithful": found.faithful(exact=exact),
            "labels_flipped": int((batched.argmax(1) != reference.argmax(1)).sum()),
            "sentences_per_s": round(len(texts) / seconds, 1),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__)
    parser.add_argument("model_dir", type=Path, help="a trained model folder, exported")
    parser.add_argument("--data", type=Path, default=SST2, help="the training TSV")
    parser.add_argument("--eval-size", type=int, default=2000, help="as given to the trainer")
    parser.add_argument("--seed", type=int, default=42, help="as given to the trainer")
    parser.add_argument("--count", type=int, default=872, help="held-out sentences scored")
    parser.add_argument(
        "--variants",
        help="comma-separated, the first is the reference (default: torch-fp32, then all); "
        "under emulation `onnx-fp32,onnx-int8,onnx-int8-mixed` keeps it to minutes",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    texts = held_out(args.data, args.eval_size, args.seed, args.count)
    run = {
        "machine": describe(),
        "command": "python -m bench.fidelity " + " ".join(argv or sys.argv[1:]),
        "model_dir": str(args.model_dir),
        "sentences": len(texts),
        "variants": compare(
            args.model_dir, texts, variants=args.variants.split(",") if args.variants else None
        ),
    }
    save(args.out, "fidelity-", run)
    print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
