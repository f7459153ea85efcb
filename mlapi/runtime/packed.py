"""Unpadded forward for BERT and DistilBERT (classifiers, and base models pooled into sentence
embeddings): every projection sees real tokens only.

A padded batch spends its GEMMs on padding (about a fifth of the rows on real SST-2 text,
bench/RESULTS.md). Here the texts of a batch are packed into one [tokens, hidden] matrix, so
the projections and the feed-forward layers, nearly all of the work, run on real tokens
only, as one GEMM per layer for the whole batch. Only attention needs a sequence axis: the
packed rows of texts of similar length are scattered into a padded [texts, length, hidden]
block for `scaled_dot_product_attention` with a key mask, and gathered back. Every module
and weight is the model's own (`from_pretrained`); the arithmetic per token is the padded
forward's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from torch.nn.functional import scaled_dot_product_attention

from mlapi.runtime.base import length_buckets


class _Group:
    """Texts of similar length that attend in one padded block: `rows` of the packed matrix."""

    def __init__(self, start: int, lengths: list[int]) -> None:
        self.rows = slice(start, start + sum(lengths))
        self.count, self.width = len(lengths), max(lengths)
        sizes = torch.tensor(lengths)
        positions = torch.cat([torch.arange(n) for n in lengths])
        self.index = torch.repeat_interleave(torch.arange(self.count), sizes) * self.width
        self.index += positions
        keys = torch.arange(self.width)[None, :] < sizes[:, None]
        self.key_mask = keys[:, None, None, :]  # [texts, 1, 1, width]

    def attend(self, q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:
        hidden = q.shape[-1]

        def pad(x: Tensor) -> Tensor:
            block = x.new_zeros(self.count * self.width, hidden)
            block.index_copy_(0, self.index, x[self.rows])
            return block.view(self.count, self.width, heads, hidden // heads).transpose(1, 2)

        out = scaled_dot_product_attention(pad(q), pad(k), pad(v), attn_mask=self.key_mask)
        merged = out.transpose(1, 2).reshape(self.count * self.width, hidden)
        return merged.index_select(0, self.index)


class Packing:
    """A batch of texts packed into one [tokens, hidden] matrix, shortest first.

    Attention runs per group of similar lengths (`length_buckets`' padding bound), so a long
    text pads only its own group's attention, never the projections.
    """

    def __init__(self, ids: Sequence[Sequence[int]]) -> None:
        lengths = [len(row) for row in ids]
        groups = length_buckets(lengths, len(ids))
        self.order = torch.tensor([i for group in groups for i in group])
        self.flat = torch.tensor([t for i in self.order.tolist() for t in ids[i]], dtype=torch.long)
        self.positions = torch.cat([torch.arange(lengths[i]) for i in self.order.tolist()])
        self.groups: list[_Group] = []
        start = 0
        for group in groups:
            self.groups.append(_Group(start, [lengths[i] for i in group]))
            start = self.groups[-1].rows.stop
        self.sizes = torch.tensor([lengths[i] for i in self.order.tolist()])
        self.first = self.sizes.cumsum(0) - self.sizes  # each text's [CLS] row, packed order

    def attend(self, q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:
        """Multi-head attention of packed [tokens, hidden] q, k, v within each text."""
        parts = [group.attend(q, k, v, heads) for group in self.groups]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def pool(self, states: Tensor, mode: str) -> Tensor:
        """One row per text (packed order) from its tokens' rows: mean, first (cls) or max."""
        if mode == "cls":
            return states.index_select(0, self.first)
        count = len(self.sizes)
        text = torch.repeat_interleave(torch.arange(count), self.sizes)  # each row's text
        if mode == "max":
            out = states.new_empty((count, states.shape[1]))
            where = text[:, None].expand_as(states)
            return out.scatter_reduce_(0, where, states, "amax", include_self=False)
        sums = states.new_zeros((count, states.shape[1])).index_add_(0, text, states)
        return sums / self.sizes.clamp(min=1)[:, None].to(states.dtype)

    def unpack(self, rows: Tensor) -> Tensor:
        """Per-text rows in packed order -> in the order the texts were given."""
        out = torch.empty_like(rows)
        out[self.order] = rows
        return out


def _bert_states(bert: Any, packing: Packing) -> Tensor:
    """A BertModel's last hidden states, [tokens, hidden] in packed order."""
    emb = bert.embeddings
    x: Tensor = emb.word_embeddings(packing.flat)
    x = x + emb.token_type_embeddings(torch.zeros_like(packing.flat))
    x = emb.LayerNorm(x + emb.position_embeddings(packing.positions))
    for layer in bert.encoder.layer:
        self_attn = layer.attention.self
        heads = self_attn.num_attention_heads
        context = packing.attend(self_attn.query(x), self_attn.key(x), self_attn.value(x), heads)
        out = layer.attention.output
        x = out.LayerNorm(out.dense(context) + x)
        inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
        x = layer.output.LayerNorm(layer.output.dense(inner) + x)
    return x


def _distilbert_states(body: Any, packing: Packing) -> Tensor:
    """A DistilBertModel's last hidden states, [tokens, hidden] in packed order."""
    emb = body.embeddings
    positions = emb.position_embeddings(packing.positions)
    x: Tensor = emb.LayerNorm(emb.word_embeddings(packing.flat) + positions)
    for layer in body.transformer.layer:
        attn = layer.attention
        context = packing.attend(attn.q_lin(x), attn.k_lin(x), attn.v_lin(x), attn.n_heads)
        x = layer.sa_layer_norm(attn.out_lin(context) + x)
        x = layer.output_layer_norm(layer.ffn.lin2(layer.ffn.activation(layer.ffn.lin1(x))) + x)
    return x


def _bert(model: Any, packing: Packing) -> Tensor:
    bert = model.bert
    cls = _bert_states(bert, packing).index_select(0, packing.first)
    pooled = bert.pooler.activation(bert.pooler.dense(cls)) if bert.pooler is not None else cls
    logits: Tensor = model.classifier(pooled)
    return logits


def _distilbert(model: Any, packing: Packing) -> Tensor:
    cls = _distilbert_states(model.distilbert, packing).index_select(0, packing.first)
    logits: Tensor = model.classifier(nn.functional.relu(model.pre_classifier(cls)))
    return logits


_FORWARDS: dict[str, Callable[[Any, Packing], Tensor]] = {
    "BertForSequenceClassification": _bert,
    "DistilBertForSequenceClassification": _distilbert,
}
_STATES: dict[str, Callable[[Any, Packing], Tensor]] = {
    "BertModel": _bert_states,
    "DistilBertModel": _distilbert_states,
}


PACKED_CLASSES = frozenset(_FORWARDS)


def _absolute_positions(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return getattr(config, "position_embedding_type", "absolute") == "absolute"


def packed_forward(model: nn.Module) -> Callable[[Packing], Tensor] | None:
    """The unpadded forward for this classifier's class, or None (then the padded one serves).
    Its logits come in the order the texts were given."""
    forward = _FORWARDS.get(type(model).__name__)
    if forward is None or not _absolute_positions(model):
        return None

    def run(packing: Packing) -> Tensor:
        return packing.unpack(forward(model, packing))

    return run


def packed_pooling(model: nn.Module, mode: str) -> Callable[[Packing], Tensor] | None:
    """The unpadded forward of a base model (BertModel, DistilBertModel) pooled per text as
    sentence-transformers pools (`mean`, `cls` or `max` over the text's tokens), or None.
    Its vectors come in the order the texts were given."""
    states = _STATES.get(type(model).__name__)
    if states is None or not _absolute_positions(model):
        return None

    def run(packing: Packing) -> Tensor:
        # Pooled in fp32, as sentence-transformers and the padded path pool (bf16 sums drift)
        return packing.unpack(packing.pool(states(model, packing).float(), mode))

    return run


def predict_packed(
    run: Callable[[Packing], Tensor], ids: Sequence[Sequence[int]], max_batch_size: int, width: int
) -> npt.NDArray[np.float32]:
    """`run`'s rows for texts tokenized already, in their order: shortest first, up to
    `max_batch_size` texts per forward, so that each forward's attention groups stay tight;
    the projections see real tokens only, whatever the lengths."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.empty((len(ids), width), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), max_batch_size):
            chunk = order[start : start + max_batch_size]
            out[chunk] = run(Packing([ids[i] for i in chunk])).float().numpy()
    return out
