"""Token ids truncated at `max_length`, tokenizing only the part of a text they can use.

A text of 10,000 characters truncated at 128 tokens keeps perhaps 600 characters' worth of
tokens; tokenizing the rest is wasted. `Truncation.ids` first tokenizes a prefix of each long
text, cut at a space, and keeps its ids when they already fill `max_length`; otherwise (a
text whose head holds few tokens: whitespace, characters the normalizer drops) it tokenizes
the whole text. The ids are those of the whole text truncated, always; the cache key stays
the whole text.

Why a prefix gives the same ids. The prefix ends just before a space (U+0020) and with a
character that is not whitespace. When the normalizer works character by character and the
pre-tokenizer splits at spaces (the tokenizers listed below), no normalized character and no
pre-token spans that point, so every pre-token of the prefix is a pre-token of the whole text,
in the same order, and the model (WordPiece, BPE, Unigram, WordLevel) tokenizes each
pre-token alone: the prefix's tokens are the first tokens of the whole text. Added tokens
hold no whitespace (checked), so none spans the cut either. Truncation keeps the first
tokens (`right`), so once the prefix gives `max_length` ids, the whole text gives the same
ones. For any other tokenizer no text is cut. `tests/runtime/test_truncation.py` checks the
equality on long texts, unicode included, for a WordPiece and a byte-level BPE tokenizer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from tokenizers import Tokenizer

# Characters of a prefix per token of `max_length`: English runs about 4-5 characters per
# WordPiece token, so a prefix of 8 per token fills `max_length` for ordinary text.
CHARS_PER_TOKEN = 8
# The normalizers and pre-tokenizers that keep a prefix's tokens (the module's docstring).
LOCAL_NORMALIZERS = frozenset(
    {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Strip"}
)
SPLITTING = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
LOCAL_PRE_TOKENIZERS = SPLITTING | {"Punctuation", "Digits"}
# The last non-whitespace character followed by a space: where a prefix may end.
_CUT = re.compile(r"[\s\S]*\S(?= )")


def _normalizer_local(spec: dict[str, Any] | None) -> bool:
    if spec is None:
        return True
    if spec["type"] == "Sequence":
        return all(_normalizer_local(part) for part in spec["normalizers"])
    return spec["type"] in LOCAL_NORMALIZERS


def _splits(spec: dict[str, Any]) -> bool:
    """Whether the pre-tokenizer splits at every space (and does nothing non-local)."""
    kind = spec["type"]
    if kind == "Sequence":
        parts = spec["pretokenizers"]
        local = all(p["type"] in LOCAL_PRE_TOKENIZERS or _splits(p) for p in parts)
        return local and any(_splits(p) for p in parts)
    if kind == "ByteLevel":
        return bool(spec.get("use_regex", True))
    if kind == "Metaspace":
        return bool(spec.get("split", True)) and spec.get("replacement") == "\u2581"
    return kind in SPLITTING


def prefix_safe(tokenizer: Tokenizer) -> bool:
    """Whether the ids of a prefix cut before a space are the first ids of the whole text."""
    spec = json.loads(tokenizer.to_str())
    truncation = tokenizer.truncation
    return (
        truncation is not None
        and truncation["direction"] == "right"
        and _normalizer_local(spec.get("normalizer"))
        and spec.get("pre_tokenizer") is not None
        and _splits(spec["pre_tokenizer"])
        and not any(
            any(c.isspace() for c in token["content"]) for token in spec.get("added_tokens", ())
        )
    )


def cut(text: str, budget: int) -> str:
    """The longest prefix of at most `budget` characters that ends before a space with a
    character that is not whitespace; `text` itself when it is short or has no such place."""
    if len(text) <= budget:
        return text
    found = _CUT.match(text, 0, budget + 1)
    return text if found is None else text[: found.end()]


class Truncation:
    """A tokenizer truncating at `max_length` and padding nothing, reading of a long text
    only a prefix that gives the same ids (`budget` characters; None: whole texts)."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.budget = CHARS_PER_TOKEN * max_length if prefix_safe(tokenizer) else None

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, truncated at `max_length`: those of the whole text."""
        encode = self.tokenizer.encode_batch
        budget = self.budget
        if budget is None:
            return [encoding.ids for encoding in encode(list(texts))]
        heads = [cut(text, budget) for text in texts]
        ids = [encoding.ids for encoding in encode(heads)]
        short = [
            i
            for i, (row, head) in enumerate(zip(ids, heads, strict=True))
            if len(row) < self.max_length and len(head) < len(texts[i])
        ]
        if short:  # the prefix did not fill max_length: the whole text decides
            for i, encoding in zip(short, encode([texts[i] for i in short]), strict=True):
                ids[i] = encoding.ids
        return ids
