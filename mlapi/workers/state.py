"""A servable without its runtime, as data: what a worker sends the server once it has loaded.

The server parses and formats with a copy of the servable (its tokenizer, labels, card), not
with the model. The worker writes that copy's attributes as JSON: plain values, and a few
tagged ones (tuples, dicts, a `tokenizers.Tokenizer` as its own JSON, and the few value
classes of `CARRIED` as their attributes). The server
builds the copy from its own classes: the servable's class is looked up by name in the module
of the kind the server asked for, and must be a `Servable`; an attribute may not replace a
method or a property. Nothing the worker sends chooses code to run.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from tokenizers import Tokenizer

from mlapi.kinds.base import ModelKind, Servable
from mlapi.runtime.base import ModelInfo
from mlapi.runtime.truncation import Truncation

_PLAIN = (str, int, float, bool, type(None))
_MISSING = object()
# The values that travel as their attributes and are rebuilt without running their code.
CARRIED: dict[str, type] = {"ModelInfo": ModelInfo, "Truncation": Truncation}


class StateError(ValueError):
    """A servable's state that is not data this module writes, or not for the kind asked."""


def encode(value: Any, where: str = "servable") -> Any:
    """`value` as JSON-able data; `StateError` for a type that is not data."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list):
        return [encode(v, f"{where}[]") for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, f"{where}[]") for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise StateError(f"{where}: dict keys must be strings")
        return {"$dict": {k: encode(v, f"{where}.{k}") for k, v in value.items()}}
    if isinstance(value, Tokenizer):
        return {"$tokenizer": value.to_str()}
    name = type(value).__name__
    if CARRIED.get(name) is type(value):
        attrs = {k: encode(v, f"{where}.{k}") for k, v in vars(value).items()}
        return {"$object": {"class": name, "attrs": attrs}}
    raise StateError(f"{where}: {name} cannot be sent to the server")


def _build(cls: type, attrs: Any) -> Any:
    """An instance of `cls` holding `attrs` (data), made without calling its code."""
    if not isinstance(attrs, dict):
        raise StateError(f"the attributes of a {cls.__name__} must be an object")
    bad = [name for name in attrs if not _data_attribute(cls, name)]
    if bad:
        raise StateError(f"attributes {bad} cannot be set on {cls.__name__}")
    instance: Any = object.__new__(cls)
    instance.__dict__.update({name: decode(value) for name, value in attrs.items()})
    return instance


def decode(value: Any) -> Any:
    """What `encode` wrote, back; `StateError` for anything else."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise StateError("a value is plain, a list or one tagged object")
    ((tag, inner),) = value.items()
    if tag == "$tuple" and isinstance(inner, list):
        return tuple(decode(v) for v in inner)
    if tag == "$dict" and isinstance(inner, dict):
        return {k: decode(v) for k, v in inner.items()}
    if tag == "$tokenizer" and isinstance(inner, str):
        try:
            return Tokenizer.from_str(inner)
        except Exception as exc:  # the Rust parser's error
            raise StateError(f"tokenizer: {exc}") from None
    if tag == "$object" and isinstance(inner, dict) and inner.get("class") in CARRIED:
        return _build(CARRIED[inner["class"]], inner.get("attrs"))
    raise StateError(f"unknown tag {tag!r}")


def dump(servable: Servable) -> dict[str, Any]:
    """The servable's class name and attributes without its runtime, as data (in the worker)."""
    attrs = servable.__getstate__()
    return {
        "class": type(servable).__name__,
        "attrs": {name: encode(value, name) for name, value in attrs.items()},
    }


def _servable_class(kind: ModelKind, name: Any) -> type[Servable]:
    module = sys.modules[type(kind).__module__]
    found = getattr(module, name, None) if isinstance(name, str) else None
    if not (isinstance(found, type) and issubclass(found, Servable)):
        raise StateError(f"{name!r} is not a servable of {module.__name__}")
    return found


def _data_attribute(cls: type, name: Any) -> bool:
    """`name` may be set on an instance: an identifier that shadows no method or property."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
        return False
    existing = inspect.getattr_static(cls, name, _MISSING)
    return existing is _MISSING or not hasattr(type(existing), "__get__")


def restore(kind: ModelKind, data: dict[str, Any]) -> Servable:
    """The servable a worker described with `dump`, built in the server from its own class."""
    cls = _servable_class(kind, data.get("class"))
    servable: Servable = _build(cls, data.get("attrs"))
    if not isinstance(servable.__dict__.get("fingerprint"), str):
        raise StateError(f"{cls.__name__} has no fingerprint")
    return servable
