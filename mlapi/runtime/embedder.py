"""Sentence embeddings from a sentence-transformers folder, without sentence-transformers.

modules.json names the transformer and the pooling module; `1_Pooling/config.json` says how
token states become one vector (mean, cls or max over the real tokens); a Normalize module
means unit vectors. The same tokenizer, length buckets and padding as the classifiers; torch
(`AutoModel.from_pretrained`) or ONNX Runtime on `python -m mlapi.tools.export`'s embedding export.
Vectors come out pooled but not normalized: the kind normalizes when the request asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mlapi.errors import PathNotAllowed
from mlapi.runtime.base import (
    IntArray,
    ModelInfo,
    Probs,
    TextModel,
    fingerprint,
    onnx_files,
    torch_files,
)

if TYPE_CHECKING:
    from torch import Tensor

    from mlapi.runtime.packed import Packing

EMBEDDING_FILES = {
    "fp32": "embedding.onnx",
    "int8": "embedding.int8.onnx",
    "int8-mixed": "embedding.int8-mixed.onnx",
}
POOLING_MODES = ("mean", "cls", "max")
_FLAGS = {
    "mean": "pooling_mode_mean_tokens",
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
}


def module_path(root: Path, module: dict[str, Any]) -> Path:
    """A module's folder, which must lie inside the model's folder, links resolved: an
    absolute path or one through `..` would load files from elsewhere."""
    raw = module.get("path", "")
    if not isinstance(raw, str):
        raise ValueError(f"modules.json: a module's path must be a string, got {raw!r}")
    path = root / raw
    if not path.resolve().is_relative_to(root.resolve()):
        raise PathNotAllowed(f"modules.json: module path {raw!r} leaves the model folder {root}")
    return path


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return data


@dataclass(frozen=True)
class SentenceTransformerFolder:
    root: Path
    transformer: Path
    pooling: str
    normalize: bool
    max_seq_length: int | None

    @classmethod
    def read(cls, root: Path) -> SentenceTransformerFolder:
        modules_path = root / "modules.json"
        if not modules_path.is_file():
            raise FileNotFoundError(
                f"{root} has no modules.json (not a sentence-transformers folder)"
            )
        modules: list[dict[str, Any]] = json.loads(modules_path.read_text())
        by_type = {m["type"].rsplit(".", 1)[-1]: m for m in modules}
        if "Transformer" not in by_type or "Pooling" not in by_type:
            raise ValueError(f"{modules_path}: needs a Transformer and a Pooling module")
        pooling = module_path(root, by_type["Pooling"])
        pooling_cfg = json.loads((pooling / "config.json").read_text())
        mode = pooling_cfg.get("pooling_mode")  # sentence-transformers 6; older ones: flags
        modes = [mode] if mode else [m for m in POOLING_MODES if pooling_cfg.get(_FLAGS[m])]
        if len(modes) != 1 or modes[0] not in POOLING_MODES:
            raise ValueError(f"pooling: one of {POOLING_MODES} is supported, got {pooling_cfg}")
        transformer = module_path(root, by_type["Transformer"])
        max_seq = _read(transformer / "sentence_bert_config.json").get("max_seq_length")
        if max_seq is None:  # sentence-transformers 6 keeps it in the tokenizer's config
            limit = _read(transformer / "tokenizer_config.json").get("model_max_length")
            max_seq = limit if isinstance(limit, int) and limit < 1_000_000 else None
        return cls(root, transformer, modes[0], "Normalize" in by_type, max_seq)


def pool(states: npt.NDArray[np.floating], mask: IntArray, mode: str) -> Probs:
    """sentence-transformers' Pooling, in numpy: masked mean, first token, or masked max."""
    states = states.astype(np.float32, copy=False)
    weights = mask[..., None].astype(np.float32)
    if mode == "cls":
        pooled = states[:, 0]
    elif mode == "max":
        pooled = np.where(weights > 0, states, np.float32(-1e9)).max(axis=1)
    else:
        pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    result: Probs = np.ascontiguousarray(pooled, dtype=np.float32)
    return result


def normalize(vectors: Probs) -> Probs:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Probs = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return result


class Embedder(TextModel):
    _packed: Callable[[Packing], Tensor] | None = None  # torch, BERT or DistilBERT: unpadded

    def __init__(
        self,
        folder: SentenceTransformerFolder,
        *,
        runtime: str,
        threads: int,
        max_length: int | None,
        max_batch_size: int,
        unpadded: bool = True,
    ) -> None:
        config = json.loads((folder.transformer / "config.json").read_text())
        limit = min(
            v
            for v in (max_length, folder.max_seq_length, config.get("max_position_embeddings", 512))
            if v
        )
        self.folder = folder
        self.runtime = runtime
        tokenizer = Tokenizer.from_file(str(folder.transformer / "tokenizer.json"))
        super().__init__(tokenizer, int(limit), max_batch_size)
        files = [
            folder.root / "modules.json",
            folder.transformer / "config.json",
            folder.transformer / "tokenizer.json",
        ]
        if runtime.startswith("onnx"):
            import onnxruntime as ort

            path = folder.transformer / "onnx" / EMBEDDING_FILES[runtime.removeprefix("onnx-")]
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} not found: run `python -m mlapi.tools.export {folder.root}`"
                )
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            self._inputs = {i.name for i in self._session.get_inputs()}
            files += onnx_files(path)
        else:
            import torch
            from transformers import AutoModel

            torch.set_num_threads(threads)
            self._torch = torch
            self._model = AutoModel.from_pretrained(folder.transformer, dtype=torch.float32).eval()
            if runtime == "torch-bf16":  # the whole model, as the classifiers' torch-bf16
                self._model.to(torch.bfloat16)
            files += torch_files(folder.transformer)
            if unpadded:
                from mlapi.runtime.packed import packed_pooling

                self._packed = packed_pooling(self._model, folder.pooling)
                self.packed = self._packed is not None
        self._width = int(config.get("hidden_size") or config.get("dim"))
        self.info = ModelInfo(
            name=str(config.get("_name_or_path") or folder.root.name),
            backend=runtime,
            fingerprint=fingerprint(
                files,
                runtime,
                folder.pooling,
                str(self.width),
                f"max_length={int(limit)}",
                *(["packed"] if self.packed else []),
            ),
            labels=(),
            max_length=int(limit),
        )

    @property
    def width(self) -> int:
        return self._width

    def _head(self, outputs: npt.NDArray[np.floating], mask: IntArray) -> Probs:
        return pool(outputs, mask, self.folder.pooling)

    def predict_ids(self, ids: Sequence[Sequence[int]]) -> Probs:
        if self._packed is None or not ids:
            return super().predict_ids(ids)
        from mlapi.runtime.packed import predict_packed

        return predict_packed(self._packed, ids, self._max_batch_size, self.width)

    def _forward(self, input_ids: IntArray, attention_mask: IntArray) -> npt.NDArray[np.floating]:
        if self.runtime.startswith("onnx"):
            feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(input_ids)
            states: npt.NDArray[np.floating] = self._session.run(["last_hidden_state"], feeds)[0]
            return states
        torch = self._torch
        with torch.inference_mode():
            out = self._model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            )
        result: npt.NDArray[np.floating] = out.last_hidden_state.float().numpy()
        return result
