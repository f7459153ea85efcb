"""What the setting groups share about reading a variable."""

from __future__ import annotations


def empty_is_none(value: object) -> object:
    """`MLAPI_X=` (set, but empty) reads as unset: a before-validator for optional settings."""
    return None if value == "" else value
