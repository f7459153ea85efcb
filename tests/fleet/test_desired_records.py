"""A desired-state record holds `ModelVersion`s; records written before versions carried their
name (`version`, `path`, `kind`, `settings`) still parse, and a record reads back as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mlapi.fleet.desired import Canary, Desired
from mlapi.serving.version import ModelVersion

FIRST_RECORD = """{
  "name": "sentiment",
  "current": {"version": "3", "path": "/models/b", "kind": "text-classifier",
              "settings": {"threads": 2}},
  "canary": {"spec": {"version": "4", "path": "/models/c", "kind": "text-classifier",
                      "settings": {}}, "percent": 10.0},
  "history": [{"version": "2", "path": "/models/a", "kind": "text-classifier", "settings": {}}],
  "generation": 7,
  "updated_at": 1700000000.0
}"""


def test_a_record_without_names_in_its_versions_parses() -> None:
    desired = Desired.model_validate_json(FIRST_RECORD)
    assert desired.current == ModelVersion(
        name="sentiment", path=Path("/models/b"), version="3", settings={"threads": 2}
    )
    assert desired.canary is not None and desired.canary.spec.version == "4"
    assert [v.name for v in (desired.canary.spec, *desired.history)] == ["sentiment"] * 2
    assert Desired.model_validate_json(desired.model_dump_json()) == desired


def test_a_record_reads_back_as_written() -> None:
    version = ModelVersion(name="m", path=Path("/models/m"), kind="embedding", version="2+1")
    desired = Desired(name="m", current=version, canary=Canary(spec=version, percent=5))
    assert Desired.model_validate_json(desired.model_dump_json()) == desired


def test_a_record_with_a_version_the_rule_refuses_does_not_parse() -> None:
    record = FIRST_RECORD.replace('"version": "3"', '"version": "3\\n"')
    with pytest.raises(ValidationError, match="not allowed"):
        Desired.model_validate_json(record)
