"""Random-weight models with real tokenizers, for tests and benchmarks (never for serving).

A model built here from a full-size config costs exactly what the trained one costs, so the
benchmarks use it; tests use a tiny config. Both go through the real `save_pretrained` format.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

WORDS = (
    "i you we they love hate like the a an movie film story plot actor great good bad awful "
    "terrible wonderful boring fun not very is was are be this that it and or but so of to in "
    "on with for store ran students class working saturday morning brutal food tasty welcome "
    "thunderdome kubernetes cluster wood chuck could would much as if how am"
).split()


SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def wordpiece_vocab(words: Iterable[str]) -> list[str]:
    """Specials, every ASCII letter/digit/punctuation (alone and as a ##suffix), then `words`."""
    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab = list(SPECIALS) + chars + [f"##{c}" for c in chars]
    return vocab + [w for w in dict.fromkeys(words) if w not in vocab]


def save_wordpiece(vocab: list[str], out: Path) -> Any:
    """A BERT-style uncased WordPiece tokenizer over `vocab`, saved with save_pretrained."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import DistilBertTokenizerFast

    ids = {token: i for i, token in enumerate(vocab)}
    backend = Tokenizer(WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    backend.decoder = decoders.WordPiece()
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = DistilBertTokenizerFast(tokenizer_object=backend, model_max_length=512)
    tokenizer.save_pretrained(out)
    return tokenizer


def save_random_model(out: Path, config: dict[str, Any], seed: int = 0) -> Path:
    """A sequence classifier with random weights from `config`, saved into `out`."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(seed)
    model_config = AutoConfig.for_model(**config)
    model = AutoModelForSequenceClassification.from_config(model_config)  # type: ignore[no-untyped-call]
    model.eval()
    model.save_pretrained(out)
    return out


LABELS = ("NEGATIVE", "POSITIVE")


def _tiny_classifier(
    out: Path, architecture: dict[str, Any], labels: tuple[str, ...], seed: int
) -> Path:
    """A sequence classifier of `architecture` on a trained WordPiece vocabulary."""
    tokenizer = save_wordpiece(wordpiece_vocab(WORDS), out)
    config = {
        **architecture,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 128,
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "pad_token_id": tokenizer.pad_token_id,
        "initializer_range": 0.2,
    }
    return save_random_model(out, config, seed=seed)


def tiny_distilbert(out: Path, *, labels: tuple[str, ...] = LABELS, seed: int = 0) -> Path:
    """A ~100 kB DistilBERT with a trained WordPiece vocabulary, saved into `out`."""
    shape = {"model_type": "distilbert", "dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}
    return _tiny_classifier(out, shape, labels, seed)


def tiny_bert(out: Path, *, labels: tuple[str, ...] = LABELS, seed: int = 0) -> Path:
    """A tiny BERT sequence classifier (random weights), the same vocabulary, into `out`."""
    shape = {
        "model_type": "bert",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
    }
    return _tiny_classifier(out, shape, labels, seed)


POSITIVE_WORDS = ("love", "great", "good", "wonderful", "fun", "like", "tasty")
NEGATIVE_WORDS = ("hate", "awful", "terrible", "bad", "boring", "brutal")
NEUTRAL_WORDS = tuple(
    w for w in WORDS if w not in POSITIVE_WORDS + NEGATIVE_WORDS and w not in ("not",)
)


def sentiment_sentences(count: int, seed: int = 0) -> list[tuple[str, int]]:
    """Short sentences labelled by the polar words they hold (1: positive)."""
    import random

    rng = random.Random(seed)
    rows: list[tuple[str, int]] = []
    for i in range(count):
        label = i % 2
        polar = POSITIVE_WORDS if label else NEGATIVE_WORDS
        words = rng.sample(NEUTRAL_WORDS, rng.randint(2, 14)) + rng.sample(polar, rng.randint(1, 2))
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def trained_tiny_distilbert(out: Path, *, steps: int = 300, seed: int = 0) -> Path:
    """The tiny DistilBERT trained until its outputs are confident (a few seconds on a CPU).

    Random weights give flat outputs that hide quantization errors; a trained model has the
    large, spread-out activations that int8 has to get right.
    """
    import torch

    tiny_distilbert(out, seed=seed)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForSequenceClassification.from_pretrained(out)
    model.train()
    rows = sentiment_sentences(2048, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(steps):
        chunk = [rows[(step * 32 + i) % len(rows)] for i in range(32)]
        batch = tokenizer([t for t, _ in chunk], padding=True, return_tensors="pt")
        loss = model(**batch, labels=torch.tensor([y for _, y in chunk])).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(out)
    return out


def tiny_sentence_transformer(out: Path, *, pooling: str = "mean", seed: int = 0) -> Path:
    """A tiny sentence-transformers folder (random BERT, WordPiece vocab, pooling, Normalize)."""
    import torch
    from sentence_transformers import SentenceTransformer, models  # type: ignore[attr-defined]
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    base = out.parent / f"{out.name}-bert"
    tokenizer = save_wordpiece(wordpiece_vocab(WORDS), base)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertModel(config).save_pretrained(base)  # save_pretrained keeps the weights as built
    transformer = models.Transformer(str(base), max_seq_length=64)
    pool = models.Pooling(32, pooling_mode=pooling)
    SentenceTransformer(modules=[transformer, pool, models.Normalize()], device="cpu").save(
        str(out)
    )
    return out
