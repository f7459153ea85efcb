"""A short model card written next to the weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_card(output: Path, metrics: dict[str, Any]) -> None:
    config = metrics["config"]
    lines = [
        f"# {output.name}",
        "",
        f"Sequence classifier fine-tuned from `{config['base_model']}` by `python -m trainer`.",
        "",
        f"- labels (id order): {', '.join(config['labels'])}",
        f"- data: `{config['data']}`; {metrics['train_examples']} training examples, "
        f"{metrics['eval_examples']} held out",
        f"- max length {config['max_length']}, batch {config['batch_size']}, "
        f"lr {config['learning_rate']}, {metrics['steps']} steps, seed {config['seed']}",
        f"- held-out accuracy **{metrics['eval_accuracy']:.4f}**, F1 {metrics['eval_f1']:.4f}",
        f"- training time {metrics['train_seconds']} s",
    ]
    if "int8_fp32_label_agreement" in metrics:
        lines.append(
            f"- ONNX int8 vs fp32 on the held-out texts: label agreement "
            f"{metrics['int8_fp32_label_agreement']:.4f}, max score difference "
            f"{metrics['int8_fp32_max_score_diff']:.4f}"
        )
    lines += ["", "Serve it: `MLAPI_MODEL_DIR=<this folder> make run`.", ""]
    (output / "README.md").write_text("\n".join(lines))
