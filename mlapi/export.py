"""`python -m mlapi.export MODEL_DIR`: ONNX fp32 and int8 (dynamic, per-channel) exports.

Writes MODEL_DIR/onnx/model.onnx and MODEL_DIR/onnx/model.int8.onnx, which the onnx backend
serves with the tokenizer.json of MODEL_DIR.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from mlapi.runtime.onnx_backend import ONNX_FILES

logger = logging.getLogger("mlapi.export")


def export_fp32(model_dir: Path, out: Path, opset: int = 17) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    model.config.return_dict = False
    sample_ids = torch.ones((2, 8), dtype=torch.long)
    sample_mask = torch.ones((2, 8), dtype=torch.long)
    out.mkdir(parents=True, exist_ok=True)
    target = out / ONNX_FILES["fp32"]
    axes = {0: "batch", 1: "sequence"}
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns about Python-level shape checks; shapes stay dynamic in the graph.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        torch.onnx.export(
            model,
            (sample_ids, sample_mask),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    return target


def export_int8(fp32: Path, out: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = out / ONNX_FILES["int8"]
    quantize_dynamic(str(fp32), str(target), per_channel=True, weight_type=QuantType.QInt8)
    return target


def export(model_dir: Path, *, int8: bool = True) -> list[Path]:
    out = model_dir / "onnx"
    fp32 = export_fp32(model_dir, out)
    written = [fp32]
    if int8:
        written.append(export_int8(fp32, out))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlapi.export", description=__doc__)
    parser.add_argument("model_dir", type=Path, help="folder written by save_pretrained")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 export")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (args.model_dir / "config.json").is_file():
        parser.error(f"{args.model_dir} has no config.json")
    for path in export(args.model_dir, int8=not args.no_int8):
        logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
