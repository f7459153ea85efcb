"""`make fleet` in the suite: the desired state across real replicas behind HAProxy, under k6."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.fleet import run
from tests.binaries import require_binary

pytestmark = pytest.mark.slow


def test_one_version_across_the_fleet(tmp_path: Path) -> None:
    for binary in ("redis-server", "haproxy", "k6", "prometheus"):
        require_binary(binary)
    args = argparse.Namespace(replicas=3, duration=50, vus=4, workers=0, poll_s=1.0)
    report = run(args, tmp_path)
    assert report["load_converged_s"] <= 5, report
    assert report["late_replica_first_version"] == "2"
    narrow = report["narrow_replica"]
    assert narrow["version"] == "1" and narrow["skew"] and "allowed roots" in narrow["error"]
    assert {"model": "default", "namespace": "mlapi", "pod": "mlapi"} in report["skew_alert_series"]
    assert report["rollback_converged_s"] <= 5, report
    canary = report["canary"]
    assert 0.07 <= canary["share_v2"] <= 0.13 and canary["same_version_again"], canary
    assert report["k6"]["requests"] > 0 and report["k6"]["failed"] == 0, report["k6"]
