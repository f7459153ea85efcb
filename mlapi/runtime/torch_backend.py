"""PyTorch backend: transformers `from_pretrained`, fp32 or bf16 weights, `inference_mode`.

BERT and DistilBERT classifiers run unpadded (mlapi/runtime/packed.py); other architectures
run the model's own padded forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlapi.runtime.base import (
    Classifier,
    IntArray,
    ModelInfo,
    Probs,
    fingerprint,
    labels_from_config,
    max_length_from_config,
    read_config,
    softmax,
    torch_files,
)
from mlapi.runtime.packed import packed_forward, predict_packed


class TorchClassifier(Classifier):
    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int,
        max_length: int | None,
        max_batch_size: int,
        bf16: bool = False,
        unpadded: bool = True,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        config = read_config(model_dir)
        torch.set_num_threads(threads)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if not tokenizer.is_fast:
            raise ValueError(f"{model_dir} has no fast tokenizer (tokenizer.json)")
        self._model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, dtype=torch.float32
        ).eval()
        self._torch = torch
        if bf16:
            # The whole model in bf16 (matmuls on AMX / AVX512_BF16, norms too), no autocast:
            # as fast as bf16 matmuls with fp32 norms, no fp32 copy of any weight, and inside
            # the fidelity bounds on the trained MiniLM (docs/variants.md).
            self._model.to(torch.bfloat16)
        self._packed = packed_forward(self._model) if unpadded else None
        self.packed = self._packed is not None
        length = max_length_from_config(config, max_length)
        super().__init__(tokenizer.backend_tokenizer, length, max_batch_size)
        variant = "torch-bf16" if bf16 else "torch-fp32"
        self.info = ModelInfo(
            name=str(config.get("_name_or_path") or model_dir.name),
            backend=variant,
            fingerprint=fingerprint(
                torch_files(model_dir),
                variant,
                f"max_length={length}",
                *(["packed"] if self.packed else []),
            ),
            labels=labels_from_config(config),
            max_length=length,
        )

    @property
    def module(self) -> Any:
        """The transformers model (bf16 or fp32), in eval mode."""
        return self._model

    def _forward(self, input_ids: IntArray, attention_mask: IntArray) -> npt.NDArray[np.floating]:
        torch = self._torch
        with torch.inference_mode():
            logits = self._model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            ).logits
        result: npt.NDArray[np.floating] = logits.float().numpy()
        return result

    def predict_ids(self, ids: Sequence[Sequence[int]]) -> Probs:
        if self._packed is None or not ids:
            return super().predict_ids(ids)
        return softmax(predict_packed(self._packed, ids, self._max_batch_size, self.width))
