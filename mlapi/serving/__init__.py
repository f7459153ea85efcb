"""Serving: one model version (`ModelVersion`), the registry that owns the slots and their
canaries, deployments, the batcher, the data plane, per-model figures and model events."""
