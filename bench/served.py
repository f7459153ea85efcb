"""Tokens/s and padding of the cold profiles as served.

After a cold profile, the sentences it sent are rebuilt from its request count (load.js's
tags for `cold`; the next sentences of the real list for `cold-sst2`, which bench/cold.js
walks in order) and counted with the served tokenizer. The padding fraction is the service's
own when GET /stats reports it: "served" from its `tokens` and `padded_tokens` over this
profile alone (the difference of two GET /stats), or "served since start" from its
cumulative `padding_fraction`. Otherwise it is replayed (bench.tokens) at the mean batch size
the service reported for this profile alone, labelled "replayed".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.sentences import load_js_cold
from bench.tokens import replay, token_lengths


def get_json(url: str, key: str | None = None) -> dict[str, Any] | None:
    """A JSON route (behind the API key `key`, if given), or None where it does not answer 200."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=10)
    except httpx.HTTPError:
        return None
    body = response.json() if response.status_code == 200 else None
    return body if isinstance(body, dict) else None


def model_stats(base_url: str, key: str | None = None) -> dict[str, Any] | None:
    """The served model's entry in GET /stats, or None where there is none (the reference)."""
    body = get_json(f"{base_url}/stats", key) or {}
    models = body.get("models") or {}
    entry = models.get(body.get("default_model")) or next(iter(models.values()), None)
    return entry if isinstance(entry, dict) else None


def padding_between(before: dict[str, Any], after: dict[str, Any]) -> float | None:
    """The served padding fraction of the batches run between two GET /stats."""
    if not {"tokens", "padded_tokens"} <= before.keys() & after.keys():
        return None
    tokens: int = after["tokens"] - before["tokens"]
    padded: int = after["padded_tokens"] - before["padded_tokens"]
    return round(1 - tokens / padded, 4) if padded > 0 else None


def mean_batch_between(before: dict[str, Any], after: dict[str, Any]) -> float | None:
    """Mean batch size of the batches run between two GET /stats."""
    batches: int = after["batches"] - before["batches"]
    if batches <= 0:
        return None
    items: float = (
        after["mean_batch_size"] * after["batches"] - before["mean_batch_size"] * before["batches"]
    )
    return round(items / batches, 2)


@dataclass(frozen=True)
class ColdText:
    """What the cold profiles send, and how the served model counts it."""

    model_dir: Path
    max_length: int
    max_batch_size: int
    real: list[str]
    vus: int
    per_request: int = 10

    def sent(self, profile: str, requests: int) -> list[str] | None:
        if profile == "cold":
            return load_js_cold(requests, self.vus)
        if profile == "cold-sst2":
            count = requests * self.per_request
            return [self.real[i % len(self.real)] for i in range(count)]
        return None

    def figures(
        self,
        profile: str,
        result: dict[str, Any],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> dict[str, Any]:
        texts = self.sent(profile, result["predicts"])
        if not texts:
            return {}
        lengths = token_lengths(self.model_dir, texts, self.max_length)
        out: dict[str, Any] = {
            "tokens_per_s": round(sum(lengths) / result["seconds"], 1),
            "mean_tokens": round(sum(lengths) / len(lengths), 2),
            "padding_fraction": None,
            "padding_source": None,
        }
        if profile == "cold-sst2":
            out["wrapped"] = len(texts) > len(self.real)  # then some were cache hits
        batch = mean_batch_between(before, after) if before and after else None
        out["mean_batch_size"] = batch
        served = padding_between(before, after) if before and after else None
        if served is not None:
            out["padding_fraction"] = served
            out["padding_source"] = "served"
        elif after is not None and after.get("padding_fraction") is not None:
            out["padding_fraction"] = after["padding_fraction"]
            out["padding_source"] = "served since start"
        elif batch:
            fraction = replay(lengths, round(batch), self.max_batch_size).padding_fraction
            out["padding_fraction"] = round(fraction, 4)
            out["padding_source"] = "replayed"
        return out
