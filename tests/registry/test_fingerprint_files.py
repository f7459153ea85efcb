"""Every weight file is in the fingerprint (the cache's namespace): two folders that differ only
in a shard of sharded safetensors, in pytorch_model.bin or in ONNX external data never share
cache entries."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from mlapi.runtime.embedder import Embedder, SentenceTransformerFolder
from mlapi.runtime.onnx_backend import OnnxClassifier
from mlapi.runtime.torch_backend import TorchClassifier
from mlapi.tools.synthetic import tiny_sentence_transformer

COMMON = {"threads": 1, "max_length": None, "max_batch_size": 8}


def perturbed(module: torch.nn.Module) -> torch.nn.Module:
    """The same model with its weights changed a little."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.01)
    return module


def two_folders(tmp_path: Path, write: Callable[[Path, bool], None]) -> tuple[Path, Path]:
    """Two folders written by `write(folder, changed)`: the same but for `changed` weights."""
    first, second = tmp_path / "a", tmp_path / "b"
    write(first, False)
    write(second, True)
    return first, second


def test_sharded_safetensors(tmp_path: Path, model_dir: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    def write(folder: Path, changed: bool) -> None:
        shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns("*.safetensors", "onnx"))
        model = AutoModelForSequenceClassification.from_pretrained(model_dir)
        (perturbed(model) if changed else model).save_pretrained(folder, max_shard_size="50KB")

    first, second = two_folders(tmp_path, write)
    assert (first / "model.safetensors.index.json").is_file()
    assert len(list(first.glob("model-*-of-*.safetensors"))) > 1
    a, b = (TorchClassifier(f, unpadded=False, **COMMON) for f in (first, second))
    assert a.info.fingerprint != b.info.fingerprint
    assert not np.allclose(a.predict(["a film"]), b.predict(["a film"]))


def test_pytorch_model_bin_of_an_embedding_model(tmp_path: Path) -> None:
    from transformers import AutoModel

    source = tiny_sentence_transformer(tmp_path / "st")

    def write(folder: Path, changed: bool) -> None:
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.safetensors"))
        model = AutoModel.from_pretrained(source)
        weights = (perturbed(model) if changed else model).state_dict()
        torch.save(weights, folder / "pytorch_model.bin")  # as older transformers wrote it

    first, second = two_folders(tmp_path, write)
    assert (first / "pytorch_model.bin").is_file()
    a, b = (
        Embedder(SentenceTransformerFolder.read(f), runtime="torch-fp32", **COMMON)
        for f in (first, second)
    )
    assert a.info.fingerprint != b.info.fingerprint


@pytest.mark.parametrize("variant", ["fp32"])
def test_onnx_external_data(tmp_path: Path, model_dir: Path, variant: str) -> None:
    import onnx

    def write(folder: Path, changed: bool) -> None:
        shutil.copytree(model_dir, folder)
        graph = folder / "onnx" / "model.onnx"
        model = onnx.load(graph)
        if changed:
            tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
            values = np.frombuffer(tensor.raw_data, dtype=np.float32).copy()
            values[0] += 0.5
            tensor.raw_data = values.tobytes()
        onnx.save_model(
            model, graph, save_as_external_data=True, location="model.onnx.data", size_threshold=0
        )

    first, second = two_folders(tmp_path, write)
    assert (first / "onnx" / "model.onnx.data").is_file()
    assert (first / "onnx" / "model.onnx").read_bytes() == (
        second / "onnx" / "model.onnx"
    ).read_bytes()  # the graph is the same: only its external data differ
    a, b = (OnnxClassifier(f, variant=variant, **COMMON) for f in (first, second))
    assert a.info.fingerprint != b.info.fingerprint
