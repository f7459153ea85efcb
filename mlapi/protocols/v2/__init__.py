"""The Open Inference Protocol v2: the inference codec, binary tensors, and the metadata,
health and model repository routes."""
