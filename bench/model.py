"""The benchmark model: full-size DistilBERT, random weights, real config and tokenizer.

Built once under bench/.cache/ (git-ignored). Random weights cost exactly what the fine-tuned
weights cost. Without ../shared, the same architecture gets a locally built WordPiece vocab.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from mlapi.tools.export import export
from mlapi.tools.synthetic import WORDS, save_random_model, save_wordpiece, wordpiece_vocab

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
SHARED = ROOT.parent.parent / "shared" / "data" / "distilbert-base-uncased-finetuned-sst2-tokenizer"
TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
FALLBACK_CONFIG = {
    "model_type": "distilbert",
    "activation": "gelu",
    "dim": 768,
    "n_layers": 6,
    "n_heads": 12,
    "hidden_dim": 3072,
    "max_position_embeddings": 512,
    "vocab_size": 30522,
    "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
    "label2id": {"NEGATIVE": 0, "POSITIVE": 1},
}
logger = logging.getLogger("bench.model")


def _fallback_vocab(size: int) -> list[str]:
    """Words plus synthetic syllables, so the vocabulary is as large as the real one."""
    syllables = [a + b for a in "bcdfghklmnprstvw" for b in "aeiou"]
    words = list(WORDS) + [a + b + c for a in syllables for b in syllables for c in "aeiouy"]
    return wordpiece_vocab(words)[:size]


def full_size_model(source: Path = SHARED) -> Path:
    """Folder with config, tokenizer, random fp32 weights and ONNX fp32/int8 exports."""
    target = CACHE / ("distilbert-sst2-random" if source.is_dir() else "distilbert-random-local")
    from mlapi.runtime.onnx_backend import ONNX_FILES

    wanted = [*ONNX_FILES.values(), "calibration.json"]
    if all((target / "onnx" / name).is_file() for name in wanted):
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if source.is_dir():
        for name in TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, target / name)
        config = json.loads((source / "config.json").read_text())
    else:
        logger.warning("%s not found: using a local WordPiece vocabulary", source)
        save_wordpiece(_fallback_vocab(30522), target)
        config = dict(FALLBACK_CONFIG)
    config.pop("architectures", None)
    config["architectures"] = ["DistilBertForSequenceClassification"]
    save_random_model(target, config)
    export(target)
    return target
