"""A live stack for the dashboard and load tests: redis + mlapi + Prometheus + a k6 run."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.k6 import run_load
from harness.servers import MlapiProcess, PrometheusServer, RedisServer
from tests.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "prometheus" / "mlapi-rules.yml"


@dataclass
class Stack:
    mlapi: MlapiProcess
    prometheus: PrometheusServer
    k6: subprocess.CompletedProcess[str]
    summary: dict[str, Any]


def run_k6(base_url: str, summary: Path, **env: str) -> subprocess.CompletedProcess[str]:
    require_binary("k6")
    return run_load({"BASE_URL": base_url, "SUMMARY": str(summary), **env}, timeout=120)


@pytest.fixture(scope="package")
def stack(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    redis = RedisServer(require_binary("redis-server"), workdir)
    prometheus_binary = require_binary("prometheus")
    redis.start()
    mlapi = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(model_dir),
            "MLAPI_REDIS_URL": redis.url,
            "MLAPI_THREADS": "1",
            "MLAPI_ACCESS_LOG": "false",
        },
        workdir / "mlapi.log",
    )
    prometheus: PrometheusServer | None = None
    try:
        mlapi.start()
        prometheus = PrometheusServer(
            prometheus_binary,
            workdir,
            [f"127.0.0.1:{mlapi.port}"],
            [RULES],
            {"namespace": "mlapi", "pod": "mlapi-local"},
        )
        prometheus.start()
        prometheus.wait_for_scrape()
        summary = workdir / "k6-summary.json"
        k6 = run_k6(
            mlapi.url,
            summary,
            VUS="3",
            RAMP_UP="1s",
            HOLD="4s",
            RAMP_DOWN="1s",
            CACHE_RATE="0.5",
            P99_MS="1000",
        )
        prometheus.wait_for_scrape(after=time.time() + 2)  # rules evaluated past the traffic
        yield Stack(mlapi, prometheus, k6, json.loads(summary.read_text()))
    finally:
        if prometheus is not None:
            prometheus.stop()
        mlapi.stop()
        redis.stop()
