"""Texts are tokenized where the request is read: the model gets token ids, batches are made
by tokens, and /stats reports the batches' real and padded tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tokenizers import Tokenizer

from mlapi.app.factory import create_app
from mlapi.settings import Settings
from tests.fakes import fake_loader

TEXTS = ["short", "a somewhat longer sentence", "and a third one, longer again, with more words"]


def test_the_model_gets_the_ids_the_http_side_made(settings: Settings, model_dir: Path) -> None:
    made, loader = fake_loader()
    with TestClient(create_app(settings, loader=loader)) as client:
        before = client.get("/stats").json()["models"]["default"]
        warm = len(made[0].batches)
        assert client.post("/predict", json={"text": TEXTS}).status_code == 200
        stats = client.get("/stats").json()["models"]["default"]
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(64)
    expected = [tokenizer.encode(text).ids for text in TEXTS]
    ran = [row for batch in made[0].batches[warm:] for row in batch]
    assert sorted(ran) == sorted(expected)
    real = stats["tokens"] - before["tokens"]
    padded = stats["padded_tokens"] - before["padded_tokens"]
    assert real == sum(map(len, expected))
    assert real <= padded <= max(map(len, expected)) * len(expected)
    assert 0 <= stats["padding_fraction"] < 1
