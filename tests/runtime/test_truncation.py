"""A text cut to what `max_length` tokens can use gives the whole text's truncated ids.

Four tokenizers of the kinds models ship (BERT WordPiece, a trained WordPiece with NFKC,
accent stripping and a regex pre-tokenizer, GPT-2/RoBERTa byte-level BPE, sentencepiece-style
Metaspace Unigram), on long texts mixing words, accents (precomposed and combining), CJK,
emoji, control and zero-width characters, odd whitespace and special-token text, and on
arbitrary unicode (Hypothesis).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from mlapi.runtime.truncation import CHARS_PER_TOKEN, Truncation, cut, prefix_safe
from mlapi.tools.synthetic import WORDS, save_wordpiece, wordpiece_vocab

PIECES = (
    *WORDS,
    "naïve",
    "nai\u0308ve",  # combining diaeresis
    "Crème brûlée",
    "ΣΊΣΥΦΟΣ",
    "東京大学で勉強する",
    "한국어",
    "مرحبا",
    "😀👍🏽",
    "don't",
    "x-ray,",
    "(test)...",
    "12345.678",
    "ﬁne",  # ligature: NFKC makes it "fine"
    "¨",  # NFKC: a space and a combining mark
    "ＡＢＣ",
    "a\u200bb",
    "\ufeff",
    "\x00",
    "\x1c",
    "\u0301\u0301",
    "[MASK]",
    "<mask>",
    "x" * 150,  # longer than WordPiece's max_input_chars_per_word
)
SEPARATORS = (" ",) * 12 + ("  ", "\t", "\n", " \n ", "\u00a0", "\u3000", "")


def corpus_text(rng: random.Random, chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        part = rng.choice(PIECES) + rng.choice(SEPARATORS)
        parts.append(part)
        size += len(part)
    return "".join(parts)[:chars]


def bert_wordpiece(tmp: Path) -> Tokenizer:
    """The tokenizer of the tests' model (`mlapi.tools.synthetic`)."""
    save_wordpiece(wordpiece_vocab(WORDS), tmp)
    return Tokenizer.from_file(str(tmp / "tokenizer.json"))


def _train(tokenizer: Tokenizer, trainer: trainers.Trainer) -> Tokenizer:
    rng = random.Random(1)
    tokenizer.train_from_iterator([corpus_text(rng, 400) for _ in range(300)], trainer)
    return tokenizer


def special(tokenizer: Tokenizer, token: str) -> tuple[str, int]:
    found = tokenizer.token_to_id(token)
    assert found is not None, token
    return token, found


def trained_wordpiece(_: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.BertNormalizer(lowercase=True, strip_accents=True)]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    _train(tokenizer, trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials))
    tokenizer.post_processor = processors.BertProcessing(
        special(tokenizer, "[SEP]"), special(tokenizer, "[CLS]")
    )
    return tokenizer


def byte_level_bpe(_: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    _train(tokenizer, trainer)
    tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    tokenizer.post_processor = processors.RobertaProcessing(
        special(tokenizer, "</s>"), special(tokenizer, "<s>")
    )
    return tokenizer


def metaspace_unigram(_: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    _train(tokenizer, trainers.UnigramTrainer(vocab_size=500, unk_token="<unk>"))
    return tokenizer


BUILDERS: dict[str, Callable[[Path], Tokenizer]] = {
    "bert-wordpiece": bert_wordpiece,
    "nfkc-wordpiece": trained_wordpiece,
    "byte-level-bpe": byte_level_bpe,
    "metaspace-unigram": metaspace_unigram,
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def tokenizer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Tokenizer:
    return BUILDERS[request.param](tmp_path_factory.mktemp(request.param))


def whole(tokenizer: Tokenizer, max_length: int | None) -> Tokenizer:
    """A copy of `tokenizer` tokenizing whole texts, truncated at `max_length` (None: not)."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    copy.no_truncation()
    if max_length is not None:
        copy.enable_truncation(max_length)
    return copy


def test_every_tokenizer_here_is_cut(tokenizer: Tokenizer) -> None:
    assert prefix_safe(whole(tokenizer, 64))
    assert Truncation(whole(tokenizer, 64), 64).budget == 64 * CHARS_PER_TOKEN


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.one_of(st.sampled_from(PIECES), st.sampled_from(SEPARATORS), st.text(max_size=6)),
        max_size=60,
    )
)
def test_the_tokens_of_a_prefix_cut_before_a_space_begin_the_whole_texts(
    tokenizer: Tokenizer, parts: list[str]
) -> None:
    """What the equality rests on, at every place a prefix may end, arbitrary unicode too."""
    text = "".join(parts)
    plain = whole(tokenizer, None)
    full = plain.encode(text, add_special_tokens=False).ids
    ends = [m.end() for m in re.finditer(r"\S(?= )", text)]
    heads = plain.encode_batch([text[:end] for end in ends], add_special_tokens=False)
    for end, head in zip(ends, heads, strict=True):
        assert full[: len(head.ids)] == head.ids, repr(text[:end])


@pytest.mark.parametrize("max_length", [16, 64, 128])
def test_cut_texts_give_the_whole_texts_truncated_ids(
    tokenizer: Tokenizer, max_length: int
) -> None:
    rng = random.Random(max_length)
    texts = [corpus_text(rng, rng.choice([200, 2_000, 10_000])) for _ in range(120)]
    texts += [  # heads that hold few tokens: the whole text decides
        " " * 9_000 + corpus_text(rng, 1_000),
        "\u0301" * 9_000 + " " + corpus_text(rng, 1_000),
        "\x00 " * 4_500 + corpus_text(rng, 1_000),
        "x" * 10_000,
        "",
    ]
    truncation = Truncation(whole(tokenizer, None), max_length)
    assert truncation.ids(texts) == [
        e.ids for e in whole(tokenizer, max_length).encode_batch(texts)
    ]
    assert budget_is_used(truncation, texts) >= 60  # most long texts were cut, not all


def budget_is_used(truncation: Truncation, texts: list[str]) -> int:
    """How many texts a prefix answered (it gave `max_length` ids)."""
    budget = truncation.budget
    assert budget is not None
    heads = [cut(text, budget) for text in texts]
    rows = truncation.tokenizer.encode_batch(heads)
    answered = [
        len(row.ids) == truncation.max_length and len(head) < len(text)
        for row, head, text in zip(rows, heads, texts, strict=True)
    ]
    return sum(answered)


def test_a_head_that_holds_too_few_tokens_gives_way_to_the_whole_text(tmp_path: Path) -> None:
    """Characters the normalizer drops (control, combining marks) fill the prefix."""
    truncation = Truncation(bert_wordpiece(tmp_path), 64)
    assert truncation.budget is not None
    rng = random.Random(3)
    for filler in ("\x00 ", "\u0301 ", "\ufeff "):
        text = filler * 2_000 + corpus_text(rng, 2_000)
        head = cut(text, truncation.budget)
        assert len(head) < len(text)
        assert len(truncation.tokenizer.encode(head).ids) < 64
        assert truncation.ids([text]) == [whole(truncation.tokenizer, 64).encode(text).ids]
        assert len(truncation.ids([text])[0]) == 64


def test_cut_ends_before_a_space_after_a_character() -> None:
    assert cut("abc def ghi", 9) == "abc def"
    assert cut("abc def ghi", 7) == "abc def"
    assert cut("abc def ghi", 6) == "abc"
    assert cut("abc    def", 8) == "abc"
    assert cut("abcdefghij", 5) == "abcdefghij"  # no place to cut: the whole text
    assert cut("short", 100) == "short"


def unsafe(change: Callable[[Tokenizer], None]) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    change(tokenizer)
    return tokenizer


@pytest.mark.parametrize(
    "change",
    [
        lambda t: setattr(t, "normalizer", normalizers.Replace(Regex(" +"), "")),
        lambda t: setattr(t, "pre_tokenizer", None),
        lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Split(Regex(".{3}"), "isolated")),
        lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Punctuation()),
        lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.ByteLevel(use_regex=False)),
        lambda t: t.add_tokens(["new york"]),
    ],
    ids=["replace", "no-pre-tokenizer", "split", "punctuation-only", "bytes-unsplit", "spaced"],
)
def test_tokenizers_that_may_join_across_a_space_read_whole_texts(
    change: Callable[[Tokenizer], None],
) -> None:
    tokenizer = unsafe(change)
    assert Truncation(tokenizer, 16).budget is None
    text = "a " * 1_000
    assert Truncation(tokenizer, 16).ids([text]) == [whole(tokenizer, 16).encode(text).ids]


def test_left_truncation_reads_whole_texts() -> None:
    tokenizer = unsafe(lambda t: None)
    assert Truncation(tokenizer, 16).budget is not None
    tokenizer.enable_truncation(16, direction="left")
    assert not prefix_safe(tokenizer)
