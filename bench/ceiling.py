"""The model's ceiling in sentences/s from the GEMM rates measured here (bench.gemm).

What is counted, per sentence of L real tokens (no padding), in each of the encoder's layers:
the projections, 2 * (4 h^2 + 2 h ffn) FLOPs per token (query, key, value and output, then the
two feed-forward matrices), and attention, 2 * 2 L h FLOPs per token (scores and the weighted
sum). Embeddings, norms, softmax, GELU and the classification head are left out. Each GEMM is
charged at the measured rate of the kernel the variant runs it on (bench.gemm), at M = the
padded tokens per forward pass of the token mix, or for a variant that runs unpadded
(mlapi/runtime/packed.py) M = the real tokens per forward pass; attention at the rate of the
h x h shape. The ceiling is the sentences/s those rates allow on that mix: a variant's fraction
of it is what padding, the non-GEMM work and the runtime leave of the machine's peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import gemm
from bench.tokens import replay

PROJECTIONS = ("qkv", "out", "ffn1", "ffn2")
_FP32_ORT, _INT8_ORT, _Q8_ORT = "fp32/onnxruntime", "int8/onnxruntime", "q8/onnxruntime"
# variant -> kernel of each projection and of attention (mlapi.tools.quantize: int8 and q8 take
# every constant-weight MatMul; int8-mixed keeps query/key/value and the down-projection in fp32)
VARIANT_KERNELS: dict[str, dict[str, str]] = {
    "onnx-int8": {**dict.fromkeys(PROJECTIONS, _INT8_ORT), "attention": _FP32_ORT},
    "onnx-int8-mixed": {
        "qkv": _FP32_ORT,
        "out": _INT8_ORT,
        "ffn1": _INT8_ORT,
        "ffn2": _FP32_ORT,
        "attention": _FP32_ORT,
    },
    "onnx-q8": {**dict.fromkeys(PROJECTIONS, _Q8_ORT), "attention": _FP32_ORT},
    "onnx-fp32": dict.fromkeys((*PROJECTIONS, "attention"), _FP32_ORT),
    "torch-bf16": dict.fromkeys((*PROJECTIONS, "attention"), "bf16/torch"),
    "torch-fp32": dict.fromkeys((*PROJECTIONS, "attention"), "fp32/torch"),
}


def packed_variants(config: dict[str, Any]) -> list[str]:
    """The variants that run this architecture unpadded: torch, on BERT and DistilBERT."""
    from mlapi.runtime.packed import PACKED_CLASSES

    if not PACKED_CLASSES & set(config.get("architectures") or ()):
        return []
    return [name for name in VARIANT_KERNELS if name.startswith("torch-")]


@dataclass(frozen=True)
class Encoder:
    hidden: int
    ffn: int
    layers: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Encoder:
        if "dim" in config:  # DistilBERT
            return cls(int(config["dim"]), int(config["hidden_dim"]), int(config["n_layers"]))
        return cls(
            int(config["hidden_size"]),
            int(config["intermediate_size"]),
            int(config["num_hidden_layers"]),
        )

    def projection(self, name: str) -> tuple[int, int, int]:
        """(matrices, k, n) of one layer's projection."""
        h, f = self.hidden, self.ffn
        return {"qkv": (3, h, h), "out": (1, h, h), "ffn1": (1, h, f), "ffn2": (1, f, h)}[name]

    def flops(self, lengths: Sequence[int]) -> dict[str, float]:
        """FLOPs per sentence, on average over `lengths`, by projection and attention."""
        tokens = sum(lengths) / len(lengths)
        squares = sum(n * n for n in lengths) / len(lengths)
        out = {}
        for name in PROJECTIONS:
            count, k, n = self.projection(name)
            out[name] = self.layers * tokens * 2 * count * k * n
        out["attention"] = self.layers * squares * 2 * 2 * self.hidden
        return out


def measure(
    encoder: Encoder,
    lengths: Sequence[int],
    *,
    threads: int,
    batch: int,
    seconds: float = 0.3,
    spin: bool = False,
    packed: Sequence[str] = (),
) -> dict[str, Any]:
    """GEMM rates of every kernel at this mix's shapes, and the ceiling of each variant;
    `packed`: the variants that run unpadded (their GEMMs' M is the real tokens)."""
    passes = replay(lengths, batch, batch)
    m = max(1, round(passes.tokens_per_forward))
    m_real = max(1, round(sum(lengths) / -(-len(lengths) // batch)))
    h, f = encoder.hidden, encoder.ffn
    packed_kernels = {k for name in packed for k in VARIANT_KERNELS[name].values()}
    kernels: dict[str, Any] = {}
    for kernel in gemm.KERNELS:
        why = gemm.unavailable(kernel)
        if why is not None:
            kernels[kernel] = {"skipped": why}
            continue
        kernels[kernel] = {}
        for key, rows in (("gflops", m), ("gflops_packed", m_real)):
            if key == "gflops_packed" and kernel not in packed_kernels:
                continue
            shapes = {
                "h x h": gemm.Shape(rows, h, h),
                "h x ffn": gemm.Shape(rows, h, f),
                "ffn x h": gemm.Shape(rows, f, h),
            }
            kernels[kernel][key] = {
                label: round(gemm.rate(kernel, shape, threads, seconds=seconds, spin=spin), 1)
                for label, shape in shapes.items()
            }
    flops = encoder.flops(lengths)
    shape_of = {"qkv": "h x h", "out": "h x h", "ffn1": "h x ffn", "ffn2": "ffn x h"}
    shape_of["attention"] = "h x h"

    def ceiling(mapping: dict[str, str], key: str = "gflops") -> float | None:
        if any("skipped" in kernels[k] for k in mapping.values()):
            return None
        seconds_per_sentence = sum(
            flops[part] / (kernels[kernel][key][shape_of[part]] * 1e9)
            for part, kernel in mapping.items()
        )
        return round(1 / float(seconds_per_sentence), 1)

    for kernel, found in kernels.items():
        for key in ("gflops", "gflops_packed"):
            if key in found:
                suffix = key.removeprefix("gflops")
                found[f"ceiling_sentences_per_s{suffix}"] = ceiling(
                    dict.fromkeys(shape_of, kernel), key
                )
    return {
        "threads": threads,
        "encoder": {"hidden": h, "ffn": f, "layers": encoder.layers},
        "batch": batch,
        "mean_tokens": round(sum(lengths) / len(lengths), 2),
        "m": m,
        "m_packed": m_real,
        "gflop_per_sentence": round(sum(flops.values()) / 1e9, 4),
        "kernels": kernels,
        "variants": {
            name: {
                "kernels": mapping,
                "packed": name in packed,
                "ceiling_sentences_per_s": ceiling(
                    mapping, "gflops_packed" if name in packed else "gflops"
                ),
            }
            for name, mapping in VARIANT_KERNELS.items()
        },
    }


def add_fractions(roofline: dict[str, Any], model_only: dict[str, Any]) -> None:
    """Each variant's model-only sentences/s on real text over its ceiling."""
    for name, row in roofline["variants"].items():
        real = model_only.get(name, {}).get("real_text")
        ceiling = row["ceiling_sentences_per_s"]
        if real and ceiling:
            row["sentences_per_s"] = real["sentences_per_s"]
            row["of_ceiling"] = round(real["sentences_per_s"] / ceiling, 3)


def table(roofline: dict[str, Any]) -> list[str]:
    """Markdown: the rates and ceilings per kernel, then each variant against its ceiling."""
    enc = roofline["encoder"]
    lines = [
        "",
        f"Roofline ({roofline['threads']} threads): {enc['layers']} layers, "
        f"hidden {enc['hidden']}, FFN {enc['ffn']}; real-text mix of "
        f"{roofline['mean_tokens']} tokens per sentence, "
        f"M = {roofline['m']} padded tokens per forward pass at batch {roofline['batch']} "
        f"(unpadded: {roofline.get('m_packed', '—')} real tokens); "
        f"{roofline['gflop_per_sentence']} GFLOP per sentence (projections and attention).",
        "",
        "| precision | runtime | M | GFLOP/s h x h | h x ffn | ffn x h | ceiling sentences/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for kernel, found in roofline["kernels"].items():
        precision, runtime = kernel.split("/")
        if "skipped" in found:
            lines.append(f"| {precision} | {runtime} | | {found['skipped']} | | | |")
            continue
        for key, m in (("gflops", roofline["m"]), ("gflops_packed", roofline.get("m_packed"))):
            if key not in found:
                continue
            rates = found[key]
            top = found[f"ceiling_sentences_per_s{key.removeprefix('gflops')}"]
            lines.append(
                f"| {precision} | {runtime} | {m} | {rates['h x h']} | {rates['h x ffn']} | "
                f"{rates['ffn x h']} | {top} |"
            )
    lines += [
        "",
        "| variant | runs | ceiling sentences/s | model-only sentences/s, real text | of ceiling |",
        "|---|---|---|---|---|",
    ]
    for name, row in roofline["variants"].items():
        ceiling = row["ceiling_sentences_per_s"] or "—"
        runs = "unpadded" if row.get("packed") else "padded"
        lines.append(
            f"| {name} | {runs} | {ceiling} | {row.get('sentences_per_s', '—')} | "
            f"{row.get('of_ceiling', '—')} |"
        )
    return lines
