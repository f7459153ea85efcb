"""Kinds of models, found by module: every module here that defines `KIND` is one kind."""

from __future__ import annotations

import importlib
import pkgutil

from mlapi.kinds.base import ModelKind, ModelSpec, Parsed, Servable, V2Tensor

__all__ = ["ModelKind", "ModelSpec", "Parsed", "Servable", "V2Tensor", "discover"]


def discover() -> dict[str, ModelKind]:
    """Kind name -> kind, one per module of this package that defines `KIND`."""
    kinds: dict[str, ModelKind] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name == "base":
            continue
        kind = getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
        if isinstance(kind, ModelKind):
            kinds[kind.name] = kind
    return kinds
