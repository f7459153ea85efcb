"""Kinds of models, found by module: every module here that defines `KIND` is one kind."""

from __future__ import annotations

import importlib
import pkgutil

from mlapi.kinds.base import Capability, Decoded, ModelKind, Servable

__all__ = ["Capability", "Decoded", "ModelKind", "Servable", "discover"]


def discover(extra: tuple[str, ...] = ()) -> dict[str, ModelKind]:
    """Kind name -> kind, one per module of this package that defines `KIND`, then one per
    module named in `extra` (`MLAPI_KIND_MODULES`: kinds kept outside the package)."""
    names = [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.name != "base"]
    kinds: dict[str, ModelKind] = {}
    for name in [*names, *extra]:
        kind = getattr(importlib.import_module(name), "KIND", None)
        if isinstance(kind, ModelKind):
            kinds[kind.name] = kind
        elif name in extra:
            raise ValueError(f"{name} defines no KIND (a mlapi.kinds.ModelKind)")
    return kinds
