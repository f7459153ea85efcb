"""mlapi: a Kubernetes-native inference service for text classification models."""

__version__ = "0.1.0"
