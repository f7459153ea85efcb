"""The unpadded forward gives the padded forward's answers, for BERT and DistilBERT."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from mlapi.runtime.base import softmax
from mlapi.runtime.packed import Packing, packed_forward, packed_pooling
from mlapi.runtime.torch_backend import TorchClassifier
from mlapi.tools.synthetic import WORDS, tiny_bert, tiny_distilbert

pytestmark = pytest.mark.numerics


@pytest.fixture(scope="module", params=["bert", "distilbert"])
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param) / "model"
    return tiny_bert(out) if request.param == "bert" else tiny_distilbert(out)


def texts(count: int) -> list[str]:
    """Lengths from one word to about a hundred tokens, in no order."""
    rng = random.Random(7)
    return [" ".join(rng.choices(WORDS, k=rng.choice([1, 2, 5, 9, 20, 60]))) for _ in range(count)]


def padded_probs(model_dir: Path, ids: list[list[int]]) -> np.ndarray:
    """The model's own forward on one padded batch with its attention mask."""
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    width = max(map(len, ids))
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=mask).logits
    return softmax(logits.numpy())


def test_the_packed_forward_gives_the_padded_answers_in_the_given_order(model_dir: Path) -> None:
    classifier = TorchClassifier(model_dir, threads=1, max_length=None, max_batch_size=8)
    assert classifier.packed
    ids = [e.ids for e in classifier.tokenizer.encode_batch(texts(30))]
    assert len({len(row) for row in ids}) > 4  # several attention groups per forward
    packed = classifier.predict_ids(ids)  # four forwards of up to 8 texts, shortest first
    np.testing.assert_allclose(packed, padded_probs(model_dir, ids), atol=1e-5)
    alone = np.vstack([classifier.predict_ids([row]) for row in ids[:5]])
    np.testing.assert_allclose(alone, packed[:5], atol=1e-5)


def test_packing_keeps_each_text_in_its_place() -> None:
    ids = [[1, 2, 3, 4, 5], [1, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1]]
    packing = Packing(ids)
    assert packing.flat.numel() == sum(map(len, ids))  # no padding row
    firsts = packing.unpack(packing.flat[packing.first])
    assert firsts.tolist() == [1, 1, 1, 1]
    lengths = packing.unpack(
        torch.tensor([g.width for g in packing.groups for _ in range(g.count)])
    )
    assert lengths[2] == 12 and lengths[3] < 12  # the long text does not pad the short ones


@pytest.mark.parametrize("mode", ["mean", "cls", "max"])
def test_pooling_reads_each_text_its_own_rows(mode: str) -> None:
    ids = [[5] * n for n in (3, 1, 7, 2, 7)]
    packing = Packing(ids)
    states = torch.randn(packing.flat.numel(), 4)
    per_text = packing.unpack(packing.pool(states, mode))
    rows = torch.split(states, packing.sizes.tolist())  # packed order, one block per text
    reduce = {"mean": lambda r: r.mean(0), "cls": lambda r: r[0], "max": lambda r: r.amax(0)}
    want = packing.unpack(torch.stack([reduce[mode](r) for r in rows]))
    torch.testing.assert_close(per_text, want)


def test_other_architectures_keep_their_own_forward() -> None:
    assert packed_forward(torch.nn.Linear(2, 2)) is None
    assert packed_pooling(torch.nn.Linear(2, 2), "mean") is None
