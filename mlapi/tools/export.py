"""`python -m mlapi.tools.export MODEL_DIR`: ONNX fp32 and int8 exports and a calibration set.

Writes into MODEL_DIR/onnx/: model.onnx (fp32), model.int8.onnx (every projection in int8:
per-token activations, per-channel 7-bit weights, see `mlapi.tools.quantize`), model.int8-mixed.onnx
(the sensitive projections left in fp32), model.q8.onnx (8-bit weights in blocks of 32, int8
activations per block: ONNX Runtime's MatMulNBits) and calibration.json: the sentences (up to
`MAX_CALIBRATION`; give real held-out text with `--calibration FILE`), the fp32 model's answers
and each exported variant's verdict against them on all the sentences, which
`MLAPI_VARIANT=auto` honours at start-up before checking the variant again on that CPU. The
onnx variants are served with the tokenizer.json of MODEL_DIR.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from mlapi.runtime.calibration import (
    Calibration,
    Verdict,
    default_sentences,
    fidelity,
    score_diffs,
    upper_quantile,
)
from mlapi.runtime.onnx_backend import ONNX_FILES
from mlapi.tools.quantize import quantize_blocks, quantize_per_token

logger = logging.getLogger("mlapi.export")
MAX_CALIBRATION = 1000  # sentences kept (evenly spread over a longer file); SST-2 dev is 872
VERDICT_BATCH = 32  # the export judges each variant batched as served, ...
VERDICT_ALONE = 64  # ... and its first sentences alone too


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


def export_int8(fp32: Path, out: Path) -> list[Path]:
    return [
        quantize_per_token(fp32, out / ONNX_FILES["int8"]),
        quantize_per_token(fp32, out / ONNX_FILES["int8-mixed"], mixed=True),
        quantize_blocks(fp32, out / ONNX_FILES["q8"]),
    ]


def spread(sentences: list[str], count: int = MAX_CALIBRATION) -> list[str]:
    """At most `count` of `sentences`, evenly spread (a file sorted by anything stays varied)."""
    if len(sentences) <= count:
        return sentences
    return [sentences[i * len(sentences) // count] for i in range(count)]


def write_calibration(model_dir: Path, sentences: list[str]) -> Path:
    """The fp32 export's answers on `sentences`, one text at a time (no batch effects), and
    every other exported variant's verdict on all of them."""
    from mlapi.runtime.onnx_backend import OnnxClassifier

    def load(precision: str, batch: int) -> OnnxClassifier:
        return OnnxClassifier(
            model_dir, variant=precision, threads=1, max_length=None, max_batch_size=batch
        )

    probs = np.vstack([load("fp32", 1).predict([text]) for text in sentences])
    verdicts = {}
    for precision, name in ONNX_FILES.items():
        if precision == "fp32" or not (model_dir / "onnx" / name).is_file():
            continue
        variant = load(precision, VERDICT_BATCH)
        alone = np.vstack([variant.predict([t]) for t in sentences[:VERDICT_ALONE]])
        batched = variant.predict(sentences)
        upper = upper_quantile(score_diffs(probs, batched))
        found = fidelity(probs, batched, alone)
        verdicts[f"onnx-{precision}"] = verdict = Verdict(found, len(sentences), upper)
        variant.close()
        logger.info("export verdict onnx-%s: %s", precision, verdict.as_dict())
    return Calibration(sentences, probs, verdicts).save(model_dir / "onnx")


def export(model_dir: Path, *, int8: bool = True, sentences: list[str] | None = None) -> list[Path]:
    out = model_dir / "onnx"
    fp32 = export_fp32(model_dir, out)
    written = [fp32]
    if int8:
        written += export_int8(fp32, out)
    written.append(write_calibration(model_dir, spread(sentences or default_sentences())))
    return written


def export_embedding(root: Path, *, int8: bool = True, opset: int = 17) -> list[Path]:
    """A sentence-transformers folder: its transformer's token states as ONNX (fp32, int8)."""
    import torch
    from transformers import AutoModel

    from mlapi.runtime.embedder import EMBEDDING_FILES, SentenceTransformerFolder

    folder = SentenceTransformerFolder.read(root)
    encoder = AutoModel.from_pretrained(folder.transformer, dtype=torch.float32).eval()

    class States(torch.nn.Module):
        """Token states only, called with keywords (the encoders' positional orders differ)."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            return out

    model = States().eval()
    out = folder.transformer / "onnx"
    out.mkdir(parents=True, exist_ok=True)
    target = out / EMBEDDING_FILES["fp32"]
    axes = {0: "batch", 1: "sequence"}
    sample = torch.ones((2, 8), dtype=torch.long)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        torch.onnx.export(
            model,
            (sample, sample),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=opset,
            dynamo=False,
        )
    written = [target]
    if int8:
        written.append(quantize_per_token(target, out / EMBEDDING_FILES["int8"]))
        mixed = out / EMBEDDING_FILES["int8-mixed"]
        written.append(quantize_per_token(target, mixed, mixed=True))
    return written


def build_parser(
    prog: str = "python -m mlapi.tools.export",
    formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter,
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=formatter_class
    )
    parser.add_argument(
        "model_dir",
        type=Path,
        help="folder written by save_pretrained, or a sentence-transformers folder",
    )
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 export")
    parser.add_argument(
        "--calibration",
        type=Path,
        help="real held-out sentences, one per line, that the variants are judged on (a few "
        f"hundred; at most {MAX_CALIBRATION} are kept; default: built in)",
    )
    return parser


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if (args.model_dir / "modules.json").is_file():  # a sentence-transformers folder
        for path in export_embedding(args.model_dir, int8=not args.no_int8):
            logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
        return 0
    if not (args.model_dir / "config.json").is_file():
        parser.error(f"{args.model_dir} has no config.json")
    sentences = None
    if args.calibration is not None:
        sentences = [s for s in args.calibration.read_text().splitlines() if s.strip()]
        if not sentences:
            parser.error(f"{args.calibration} has no sentences")
    for path in export(args.model_dir, int8=not args.no_int8, sentences=sentences):
        logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
