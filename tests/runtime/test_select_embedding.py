"""`MLAPI_VARIANT=auto` for embedding models: a trial by cosine to fp32, kept for the next start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlapi.runtime.calibration import MIN_P1_COSINE
from mlapi.runtime.embedder import EMBEDDING_FILES, SentenceTransformerFolder
from mlapi.runtime.select_embedding import choose_embedding
from mlapi.settings import Settings
from mlapi.tools.export import export_embedding
from mlapi.tools.synthetic import tiny_sentence_transformer


def auto(trial_dir: Path | None) -> Settings:
    return Settings(variant="auto", trial_dir=trial_dir, threads=1, access_log=False)


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("st") / "model"
    tiny_sentence_transformer(out)
    export_embedding(out)
    return out


def test_auto_serves_the_fastest_faithful_embedding_variant(st_dir: Path, tmp_path: Path) -> None:
    model, choice = choose_embedding(auto(tmp_path), st_dir)
    tried = {t.variant: t for t in choice.trials if not t.skipped}
    assert {"onnx-int8", "onnx-int8-mixed", "onnx-fp32", "torch-fp32"} <= set(tried)
    assert tried["onnx-fp32"].faithful and tried["onnx-fp32"].fidelity["p1_cosine"] >= 0.99999
    faithful = {n: t.sentences_per_s or 0.0 for n, t in tried.items() if t.faithful}
    assert model.info.backend == choice.variant == max(faithful, key=faithful.__getitem__)
    for trial in tried.values():  # the verdict follows the bounds
        assert trial.faithful == (
            trial.fidelity["p1_cosine"] >= 1 - (1 - MIN_P1_COSINE) * 0.75
            and trial.fidelity["batch_diff"] <= (1e-5 if "fp32" in trial.variant else 0.01)
        )
    again, reused = choose_embedding(auto(tmp_path), st_dir)
    assert reused.reused and again.info.backend == model.info.backend
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]  # one file


def test_an_unfaithful_embedding_variant_is_refused(st_dir: Path, tmp_path: Path) -> None:
    """An int8 export of another model's weights: fast, and wrong."""
    other = tmp_path / "other"
    tiny_sentence_transformer(other, seed=1)
    export_embedding(other)
    broken = tmp_path / "broken"
    shutil.copytree(st_dir, broken)
    int8 = Path("onnx") / EMBEDDING_FILES["int8"]
    source = SentenceTransformerFolder.read(other).transformer / int8
    shutil.copy(source, SentenceTransformerFolder.read(broken).transformer / int8)
    model, choice = choose_embedding(auto(None), broken)
    [trial] = [t for t in choice.trials if t.variant == "onnx-int8"]
    assert trial.skipped is None and not trial.faithful
    assert trial.fidelity["p1_cosine"] < MIN_P1_COSINE
    assert model.info.backend != "onnx-int8"
