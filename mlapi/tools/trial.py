"""Run the `auto` variant trial at image build time and keep it in a read-only store.

    python -m mlapi.tools.trial MODEL_DIR [--kind text-classifier|embedding]
                                [--threads 1,2] [--store DIR]

The trial is the one a serving start runs (`mlapi.runtime.select`), with the settings of the
environment (MLAPI_MAX_LENGTH, MLAPI_AUTO_VARIANTS, MLAPI_WORKERS, ...) as a worker process
gets them, once per MLAPI_THREADS value of `--threads` (the overlays' values: a key holds one).
Each result is written to `STORE/<key>.json`, the key a serving start computes for the same
model files, CPU flags, runtime versions and settings; a start on a node whose CPU has other
flags finds no key there and runs the trial itself. The store is MLAPI_TRIAL_STORE by default.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlapi.runtime.select import Choice, trial_key
from mlapi.settings import Settings
from mlapi.settings.per_model import per_worker

KINDS = ("text-classifier", "embedding")


def run(model_dir: Path, kind: str, settings: Settings) -> Choice:
    """The trial a worker of `settings` would run for `model_dir`, its model closed after."""
    if kind == "embedding":
        from mlapi.runtime.select_embedding import run_trial as embedding_trial

        embedder, choice = embedding_trial(settings, model_dir)
        embedder.close()
        return choice
    from mlapi.runtime.select import run_trial

    classifier, choice = run_trial(settings, model_dir)
    classifier.close()
    return choice


def bake(model_dir: Path, kind: str, settings: Settings, store: Path) -> Path:
    """Run the trial for `settings` and write it where a start with them looks it up."""
    share = per_worker(settings) if settings.workers else settings
    key_kind = "embedding" if kind == "embedding" else ""
    path = store / f"{trial_key(model_dir, share, key_kind)}.json"
    choice = run(model_dir, kind, share)
    choice.stored = True
    store.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(choice.as_dict()) + "\n")
    return path


def _threads(value: str) -> list[int]:
    try:
        found = [int(t) for t in value.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of thread counts: {value!r}") from None
    if not found or any(t < 1 for t in found):
        raise argparse.ArgumentTypeError(f"not a list of thread counts: {value!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlapi.tools.trial", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--kind", choices=KINDS, default="text-classifier")
    parser.add_argument(
        "--threads",
        type=_threads,
        default=None,
        help="comma-separated MLAPI_THREADS values to keep a trial for [default: the env's]",
    )
    parser.add_argument("--store", type=Path, default=None, help="[default: MLAPI_TRIAL_STORE]")
    args = parser.parse_args(argv)
    base = Settings(variant="auto", model_dir=args.model_dir)
    store = args.store or base.trial_store
    if store is None:
        parser.error("no store: give --store or set MLAPI_TRIAL_STORE")
    if not args.model_dir.is_dir():
        parser.error(f"{args.model_dir} is not a folder")
    # The store may sit anywhere, even in the model folder: trial_key skips its files.
    base = base.model_copy(update={"trial_store": store.resolve()})
    for threads in args.threads or [base.threads]:
        settings = base.model_copy(update={"threads": threads})
        path = bake(args.model_dir, args.kind, settings, store)
        choice = json.loads(path.read_text())
        print(
            f"trial: {args.model_dir} ({args.kind}) threads={threads}: {choice['variant']} "
            f"in {choice['seconds']} s -> {path}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
