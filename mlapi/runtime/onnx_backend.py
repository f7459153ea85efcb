"""ONNX Runtime backend on a `python -m mlapi.tools.export` folder; no torch needed at run time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mlapi.runtime.base import (
    Classifier,
    IntArray,
    ModelInfo,
    fingerprint,
    labels_from_config,
    max_length_from_config,
    onnx_files,
    read_config,
)

ONNX_FILES = {
    "fp32": "model.onnx",
    "int8": "model.int8.onnx",
    "int8-mixed": "model.int8-mixed.onnx",
    "q8": "model.q8.onnx",
}


def onnx_path(model_dir: Path, variant: str) -> Path:
    return model_dir / "onnx" / ONNX_FILES[variant]


class OnnxClassifier(Classifier):
    def __init__(
        self,
        model_dir: Path,
        *,
        variant: str,
        threads: int,
        max_length: int | None,
        max_batch_size: int,
        spin: bool = True,
    ) -> None:
        import onnxruntime as ort

        config = read_config(model_dir)
        path = onnx_path(model_dir, variant)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: export it with `python -m mlapi.tools.export {model_dir}`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spin:  # idle workers sleep, leaving the CPU to the event loop
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        length = max_length_from_config(config, max_length)
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        super().__init__(tokenizer, length, max_batch_size)
        files = [model_dir / "config.json", model_dir / "tokenizer.json", *onnx_files(path)]
        self.info = ModelInfo(
            name=str(config.get("_name_or_path") or model_dir.name),
            backend=f"onnx-{variant}",
            fingerprint=fingerprint(files, f"onnx-{variant}", f"max_length={length}"),
            labels=labels_from_config(config),
            max_length=length,
        )

    def _forward(self, input_ids: IntArray, attention_mask: IntArray) -> npt.NDArray[np.floating]:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        logits: npt.NDArray[np.floating] = self._session.run(["logits"], feeds)[0]
        return logits
