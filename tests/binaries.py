"""Binaries the tests need: skipped locally when missing, a failure under CI=true."""

from __future__ import annotations

import os

import pytest

from harness.servers import MissingBinary, find_binary


def require_binary(name: str) -> str:
    try:
        return find_binary(name)
    except MissingBinary as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
