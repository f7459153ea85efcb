"""The served variants: runtime + precision, each with what it needs to be a candidate."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from mlapi.runtime.base import Classifier
from mlapi.runtime.cpu import has_fast_bf16
from mlapi.runtime.onnx_backend import onnx_path


@dataclass(frozen=True)
class Variant:
    name: str
    runtime: str  # "onnx" | "torch"
    precision: str  # "fp32" | "int8" | "int8-mixed" | "q8" | "bf16"

    @property
    def exact(self) -> bool:
        """fp32 variants must match fp32 answers to float rounding."""
        return self.precision == "fp32"

    def missing(self, model_dir: Path) -> str | None:
        """Why this variant cannot run here, or None when it can."""
        if importlib.util.find_spec("onnxruntime" if self.runtime == "onnx" else "torch") is None:
            return f"{self.runtime} runtime not installed"
        if self.runtime == "onnx":
            path = onnx_path(model_dir, self.precision)
            return None if path.is_file() else f"{path.name} not exported"
        if not any((model_dir / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")):
            return "no torch weights in the folder"
        if self.precision == "bf16" and not has_fast_bf16():
            return "CPU has no AMX or AVX512_BF16"
        return None

    def load(
        self,
        model_dir: Path,
        *,
        threads: int,
        max_length: int | None,
        max_batch_size: int,
        spin: bool,
    ) -> Classifier:
        if self.runtime == "onnx":
            from mlapi.runtime.onnx_backend import OnnxClassifier

            return OnnxClassifier(
                model_dir,
                variant=self.precision,
                threads=threads,
                max_length=max_length,
                max_batch_size=max_batch_size,
                spin=spin,
            )
        from mlapi.runtime.torch_backend import TorchClassifier

        return TorchClassifier(
            model_dir,
            threads=threads,
            max_length=max_length,
            max_batch_size=max_batch_size,
            bf16=self.precision == "bf16",
        )


VARIANTS = {
    v.name: v
    for v in (
        Variant("onnx-int8", "onnx", "int8"),
        Variant("onnx-int8-mixed", "onnx", "int8-mixed"),
        Variant("onnx-q8", "onnx", "q8"),
        Variant("onnx-fp32", "onnx", "fp32"),
        Variant("torch-bf16", "torch", "bf16"),
        Variant("torch-fp32", "torch", "fp32"),
    )
}
# What `auto` tries, in this order. torch fp32 runs unpadded where the architecture allows
# (mlapi/runtime/packed.py): on a CPU without fast bf16 it can beat onnx-fp32, which pads.
AUTO_CANDIDATES = (
    "onnx-int8",
    "onnx-int8-mixed",
    "onnx-q8",
    "onnx-fp32",
    "torch-bf16",
    "torch-fp32",
)
