"""The seed's sentences, and never-seen variants of them for the cold profile."""

from __future__ import annotations

SEED = [
    "I love you!",
    "I hate you!",
    "I am a Kubernetes Cluster!",
    "I ran to the store",
    "The students are very good in this class",
    "Working on Saturday morning is brutal",
    "How much wood could a wood chuck chuck if a wood chuck could chuck wood?",
    "A Wood chuck would chuck as much wood as a wood chuck could chuck if a woodchuck could "
    "chuck wood ",
    "Food is very tasty",
    "Welcome to the thunderdome",
]


def cold_sentences(count: int, tag: str) -> list[str]:
    """Like load.js COLD=1: each seed sentence with a unique suffix."""
    return [f"{SEED[i % len(SEED)]} ({tag}.{i})" for i in range(count)]


def load_js_cold(requests: int, vus: int) -> list[str]:
    """What load.js COLD=1 sent in `requests` bodies: its own tags, VUs taking turns."""
    out: list[str] = []
    for n in range(requests):
        tag = f"{n % vus + 1}-{n // vus}"
        out += [f"{s} ({tag}.{i})" for i, s in enumerate(SEED)]
    return out
