"""`python -m bench.startup`: seconds from start to `/ready` 200 with `MLAPI_VARIANT=auto`, on
a node that never served the model (the variant trial runs) and on one that did (the trial's
result is stored in `MLAPI_TRIAL_DIR` and reused). The HPA's scale-up waits on the second.
Writes bench/out/startup-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.machine import describe, save
from bench.model import full_size_model
from harness.servers import MlapiProcess

OUT = Path(__file__).resolve().parent / "out"


def start_once(model: Path, trials: Path, log: Path) -> dict[str, Any]:
    # Whether this start found a stored trial (`trials` is this run's own folder: only this
    # model's trial is ever kept there). The card's `reused` cannot tell: after a trial the
    # worker is started once more, and that worker reuses what the trial stored.
    found_trial = trials.is_dir() and any(trials.glob("*.json"))
    service = MlapiProcess(
        {"MLAPI_MODEL_DIR": str(model), "MLAPI_VARIANT": "auto", "MLAPI_TRIAL_DIR": str(trials)},
        log,
    )
    service.start(timeout=300)
    try:
        card = httpx.get(f"{service.url}/model", timeout=10).json()
    finally:
        service.stop()
    selection = card.get("selection") or {}
    return {
        "ready_s": round(service.ready_seconds, 2),
        "variant": card["backend"],
        "found_stored_trial": found_trial,
        "trial_stored": bool(selection.get("stored")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--model", type=Path, help="default: the benchmark's full-size model")
    parser.add_argument("--repeats", type=int, default=2, help="starts with the stored trial")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    model = args.model or full_size_model()
    with tempfile.TemporaryDirectory() as tmp:
        trials = Path(tmp) / "trials"
        first = start_once(model, trials, Path(tmp) / "first.log")
        again = [
            start_once(model, trials, Path(tmp) / f"again-{i}.log") for i in range(args.repeats)
        ]
    run = {"machine": describe(), "model": str(model), "first_start": first, "stored_trial": again}
    save(args.out, "startup-", run)
    print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
