"""`make bench-peers` builds bench.embed's infinity-emb venv where bench.embed looks for it, from
requirements/bench-peers.txt, which pins every package (torch: the local CPU 2.13.0)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import bench.embed
from tests.binaries import require_binary

ROOT = Path(__file__).resolve().parents[2]
PINS = ROOT / "requirements" / "bench-peers.txt"
PINNED = re.compile(r"(?P<name>[a-z0-9][a-z0-9-]*)(\[(?P<extras>[a-z0-9,-]+)\])?==(?P<version>\S+)")


def pins() -> dict[str, tuple[str, str]]:
    """name -> (extras, version) of every requirement line; a line that is not `name==version`
    (a range, a URL, an option, an unpinned name) fails."""
    found: dict[str, tuple[str, str]] = {}
    for line in PINS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PINNED.fullmatch(line)
        assert match, f"not pinned with ==: {line!r}"
        assert match["name"] not in found, f"pinned twice: {match['name']}"
        found[match["name"]] = (match["extras"] or "", match["version"])
    return found


def test_the_target_builds_the_venv_bench_embed_runs() -> None:
    plan = subprocess.run(
        [require_binary("make"), "--no-print-directory", "-n", "-B", "bench-peers"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plan.returncode == 0, plan.stderr
    venv = bench.embed.PEERS_VENV.relative_to(ROOT)
    assert bench.embed.INFINITY.parent == bench.embed.PEERS_VENV / "bin"
    (install,) = [line for line in plan.stdout.splitlines() if "scripts/pip-install.sh" in line]
    assert install == (
        f"PYTHON={venv}/bin/python bash scripts/pip-install.sh -r requirements/bench-peers.txt"
    )
    assert f"-m venv {venv}" in plan.stdout
    assert f"touch {venv}/.installed" in plan.stdout


def test_every_requirement_is_pinned() -> None:
    found = pins()
    assert found["infinity-emb"][0].split(",") == ["server", "torch"]
    assert found["torch"] == ("", "2.13.0")
    # The CPU build: no CUDA runtime rides along (scripts/pip-install.sh's whole point).
    assert not [name for name in found if name.startswith("nvidia-") or "triton" in name]
    # The server's own stack is pinned too, not left to the resolver.
    assert {"sentence-transformers", "transformers", "uvicorn", "fastapi"} <= set(found)


def test_bench_embed_points_at_make_bench_peers_when_the_venv_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.embed, "INFINITY", tmp_path / "bin" / "infinity_emb")
    with pytest.raises(SystemExit, match="run `make bench-peers`"):
        bench.embed.main(["--out", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # stopped before any model or server work
