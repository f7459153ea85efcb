"""The training loop: seeded, checkpointed every `save_every` steps, resumable."""

from __future__ import annotations

import logging
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from trainer.config import TrainConfig
from trainer.data import Example

logger = logging.getLogger("trainer")
CHECKPOINT = "checkpoint.pt"


@dataclass
class LoopResult:
    steps: int
    losses: list[float]
    finished: bool


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(
    examples: Sequence[Example], batch_size: int, seed: int, epoch: int
) -> list[list[int]]:
    order = list(range(len(examples)))
    random.Random(seed * 1000 + epoch).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a broken checkpoint


OnStep = Callable[[int, int, float], None]


def train(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    config: TrainConfig,
    workdir: Path,
    on_step: OnStep | None = None,
) -> LoopResult:
    """Trains in place. Resumes from workdir/checkpoint.pt when it exists.

    `on_step(step, total, recent mean loss)` is called after every step.
    """
    per_epoch = math.ceil(len(examples) / config.batch_size)
    total = config.max_steps or max(1, int(per_epoch * config.epochs))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    warmup = int(total * config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            (s + 1) / max(1, warmup)
            if s < warmup
            else max(0.0, (total - s) / max(1, total - warmup))
        ),
    )
    step, losses = 0, []
    checkpoint = workdir / CHECKPOINT
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)  # tensors and plain data only
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, losses = state["step"], state["losses"]
        torch.set_rng_state(state["torch_rng"])
        logger.info("resumed from step %d", step)
    stop = min(total, config.stop_after) if config.stop_after else total
    model.train()
    # A bar on a terminal; plain log lines (about 20 per run) in a log file or a Job's log.
    tty = sys.stderr.isatty()
    progress = tqdm(
        total=total, initial=step, desc="train", unit="step", mininterval=2, disable=not tty
    )
    every = max(1, total // 20)
    order: tuple[int, list[list[int]]] = (-1, [])
    while step < stop:
        epoch, offset = divmod(step, per_epoch)
        if order[0] != epoch:
            order = (epoch, _batches(examples, config.batch_size, config.seed, epoch))
        batch = order[1][offset]
        encoded = tokenizer(
            [examples[i].text for i in batch],
            truncation=True,
            padding=True,
            max_length=config.max_length,
            return_tensors="pt",
        )
        labels = torch.tensor([examples[i].label for i in batch])
        loss = model(**encoded, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss.item())
        progress.update(1)
        recent = float(np.mean(losses[-50:]))
        progress.set_postfix(loss=f"{recent:.4f}")
        if not tty and (step % every == 0 or step == stop):
            logger.info("step %d/%d loss %.4f", step, total, recent)
        if on_step is not None:
            on_step(step, total, recent)
        if step % config.save_every == 0 or step == stop:
            _save(
                checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "losses": losses,
                    "torch_rng": torch.get_rng_state(),
                },
            )
    progress.close()
    model.eval()
    return LoopResult(steps=step, losses=losses, finished=step >= total)


@torch.inference_mode()
def predict(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 64
) -> np.ndarray:
    """Probabilities for `texts` with the fine-tuned torch model."""
    out = []
    for i in range(0, len(texts), batch_size):
        encoded = tokenizer(
            list(texts[i : i + batch_size]),
            truncation=True,
            padding=True,
            max_length=max_length,
            return_tensors="pt",
        )
        out.append(torch.softmax(model(**encoded).logits, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels))
