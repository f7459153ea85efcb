"""What the OpenAPI schema says of the service as a whole: its description, and the tags that
group its routes (every route carries one)."""

from __future__ import annotations

from typing import Any

DESCRIPTION = (
    "Named models (text classifiers, embedding and tabular models) with per-item caching and "
    "micro-batching, behind four protocols: mlapi's own JSON routes (`/predict`, "
    "`/models/{name}/predict`), text-embeddings-inference's `/embed`, OpenAI's embeddings "
    "(`/v1/embeddings`) and the Open Inference Protocol v2 (`/v2/...`, as KServe and Triton "
    "speak it)."
)
TAGS: list[dict[str, Any]] = [
    {
        "name": "inference",
        "description": "mlapi's own JSON routes: classify with the default model, or predict "
        "with a named model of any kind.",
    },
    {
        "name": "embeddings",
        "description": "Embeddings as text-embeddings-inference (`/embed`) and OpenAI "
        "(`/v1/embeddings`) serve them.",
    },
    {
        "name": "v2",
        "description": "The Open Inference Protocol v2: inference, metadata, health and the "
        'model repository extension. Errors are `{"error": "..."}`.',
    },
    {
        "name": "models",
        "description": "The models a replica serves and their live figures; the admin API "
        "that loads, unloads, rolls back and canaries them on every replica.",
    },
    {"name": "training", "description": "Training jobs, whose models can then be served (admin)."},
    {"name": "health", "description": "Liveness and readiness."},
]
