"""The trial kept at image build time (`python -m mlapi.tools.trial`, MLAPI_TRIAL_STORE): a
start looks in MLAPI_TRIAL_DIR first, then in the store, and trusts only a store no one else
can write; the key is the same in the build step and in the serving worker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.servers import MlapiProcess
from mlapi.runtime import load_classifier
from mlapi.runtime.select import trial_key
from mlapi.settings import Settings


def auto(model_dir: Path, trial_dir: Path, store: Path | None, threads: int = 1) -> Settings:
    return Settings(
        model_dir=model_dir,
        variant="auto",
        trial_dir=trial_dir,
        trial_store=store,
        threads=threads,
        access_log=False,
    )


def bake(model_dir: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m mlapi.tools.trial` as the Dockerfile runs it, MLAPI_* from the bundle."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLAPI_")}
    return subprocess.run(
        [sys.executable, "-m", "mlapi.tools.trial", str(model_dir), "--store", str(store), *args],
        env={**base, "MLAPI_WORKERS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def baked(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only store with the trials for 1 and 2 threads (the overlays' values)."""
    store = tmp_path_factory.mktemp("image") / "trials"
    done = bake(trained_dir, store, "--threads", "1,2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(store.glob("*.json"))) == 2  # one key per thread count
    for path in [store, *store.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return store


def test_a_start_reuses_the_baked_trial(trained_dir: Path, baked: Path, tmp_path: Path) -> None:
    model = load_classifier(auto(trained_dir, tmp_path / "node", baked), trained_dir)
    selection = model.info.selection
    assert selection is not None and selection["reused"] and selection["baked"]
    key = trial_key(trained_dir, auto(trained_dir, tmp_path, None))
    stored = json.loads((baked / f"{key}.json").read_text())
    assert model.info.backend == selection["variant"] == stored["variant"]
    assert not (tmp_path / "node").exists()  # nothing written on the node


def test_the_node_trial_comes_first(trained_dir: Path, baked: Path, tmp_path: Path) -> None:
    settings = auto(trained_dir, tmp_path, baked)
    node = json.loads((baked / f"{trial_key(trained_dir, settings)}.json").read_text())
    other = "onnx-int8" if node["variant"] == "onnx-fp32" else "onnx-fp32"
    node["variant"] = other  # not what the build chose
    (tmp_path / f"{trial_key(trained_dir, settings)}.json").write_text(json.dumps(node))
    model = load_classifier(settings, trained_dir)
    selection = model.info.selection
    assert selection is not None and selection["reused"] and not selection["baked"]
    assert model.info.backend == other


def test_other_settings_run_the_trial_and_keep_it_on_the_node(
    trained_dir: Path, baked: Path, tmp_path: Path
) -> None:
    settings = auto(trained_dir, tmp_path, baked, threads=3)  # no key for 3 threads in the store
    model = load_classifier(settings, trained_dir)
    assert model.info.selection is not None and not model.info.selection["reused"]
    assert (tmp_path / f"{trial_key(trained_dir, settings)}.json").is_file()


def test_a_store_others_can_write_is_not_read(
    trained_dir: Path, baked: Path, tmp_path: Path
) -> None:
    open_store = tmp_path / "open"
    shutil.copytree(baked, open_store)
    open_store.chmod(0o777)
    model = load_classifier(auto(trained_dir, tmp_path / "node", open_store), trained_dir)
    assert model.info.selection is not None and not model.info.selection["reused"]
    assert len(list((tmp_path / "node").glob("*.json"))) == 1


def test_the_key_skips_a_store_inside_the_model_folder(model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)  # copy2: mtimes kept, as COPY keeps them
    settings = auto(folder, tmp_path / "node", folder / "trials")
    key = trial_key(folder, settings)
    assert key == trial_key(model_dir, auto(model_dir, tmp_path / "node", None))
    (folder / "trials").mkdir()
    (folder / "trials" / f"{key}.json").write_text("{}")
    assert trial_key(folder, settings) == key
    os.utime(folder / "config.json", ns=(0, 10**9))  # a changed model file changes it
    assert trial_key(folder, settings) != key


def test_bad_thread_counts_are_a_usage_error(model_dir: Path, tmp_path: Path) -> None:
    done = bake(model_dir, tmp_path / "store", "--threads", "two")
    assert done.returncode == 2 and "not a list of thread counts" in done.stderr
    assert not (tmp_path / "store").exists()


def test_a_served_worker_finds_the_baked_trial(
    trained_dir: Path, baked: Path, tmp_path: Path
) -> None:
    """The key the build computed is the one `python -m mlapi`'s worker computes."""
    server = MlapiProcess(
        {
            "MLAPI_MODEL_DIR": str(trained_dir),
            "MLAPI_VARIANT": "auto",
            "MLAPI_TRIAL_DIR": str(tmp_path / "node"),
            "MLAPI_TRIAL_STORE": str(baked),
            "MLAPI_WORKERS": "1",
            "MLAPI_THREADS": "2",
        },
        tmp_path / "mlapi.log",
    )
    try:
        server.start(timeout=120)
        card = httpx.get(f"{server.url}/model", timeout=10).json()
    finally:
        server.stop()
    assert card["selection"]["reused"] and card["selection"]["baked"], card["selection"]
    assert not (tmp_path / "node").exists()
