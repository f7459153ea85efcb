"""Every file a load reads lies under the model roots, links resolved: a modules.json path
(absolute or through `..`) or a link inside an admitted folder that points elsewhere is
refused with a typed 4xx; `/` is never a root."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from mlapi.app.factory import create_app
from mlapi.fleet.admission import model_roots
from mlapi.settings import Settings
from mlapi.tools.synthetic import tiny_sentence_transformer
from tests.registry.conftest import ADMIN


@pytest.fixture(scope="module")
def inside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Under the roots (the test's base temp folder): a sentence-transformers folder."""
    root = tmp_path_factory.mktemp("roots")
    tiny_sentence_transformer(root / "st")
    return root


@pytest.fixture(scope="module")
def outside() -> Iterator[Path]:
    """A folder outside the roots, with a tokenizer a load must not read."""
    path = Path(tempfile.mkdtemp(prefix="mlapi-outside-"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def client(
    inside: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = Settings(
        model_dir=model_dir,
        model_roots=str(tmp_path_factory.getbasetemp()),
        admin_keys="admin-key",
        variant="onnx-fp32",
        trial_dir=None,
        threads=1,
        warmup_batches=1,
        access_log=False,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def load(client: TestClient, name: str, path: Path, kind: str) -> tuple[int, str]:
    body = {"path": str(path), "kind": kind, "settings": {"variant": "torch-fp32"}}
    response = client.post(f"/models/{name}/load", json=body, headers=ADMIN)
    return response.status_code, response.text


def embedding_copy(inside: Path, name: str, transformer_path: str | None = None) -> Path:
    folder = inside / name
    shutil.copytree(inside / "st", folder, symlinks=True)
    if transformer_path is not None:
        modules = json.loads((folder / "modules.json").read_text())
        for module in modules:
            if module["type"].endswith("Transformer"):
                module["path"] = transformer_path
        (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def test_an_untouched_copy_loads(client: TestClient, inside: Path) -> None:
    """The control: the folders below differ from this one only by what leaves the roots."""
    status, text = load(client, "st-plain", embedding_copy(inside, "plain"), "embedding")
    assert status == 200, text


@pytest.mark.parametrize("where", ["absolute", "dot-dot"])
def test_a_module_path_that_leaves_the_folder_is_refused(
    client: TestClient, inside: Path, outside: Path, where: str
) -> None:
    elsewhere = outside / f"st-{where}"
    shutil.copytree(inside / "st", elsewhere)
    if where == "absolute":
        folder = embedding_copy(inside, "absolute", str(elsewhere))
    else:  # a sibling under the roots, reached through ..
        folder = embedding_copy(inside, "dot-dot", "../st")
    status, text = load(client, f"st-{where}", folder, "embedding")
    assert status == 422, text
    assert "leaves the model folder" in text
    assert client.get("/ready").status_code == 200


@pytest.mark.parametrize("kind", ["embedding", "text-classifier"])
def test_a_link_inside_the_folder_to_a_file_outside_is_refused(
    client: TestClient, inside: Path, outside: Path, model_dir: Path, kind: str
) -> None:
    if kind == "embedding":
        folder = embedding_copy(inside, "linked")
    else:
        folder = inside / "linked-classifier"
        shutil.copytree(model_dir, folder)
    tokenizer = next(folder.rglob("tokenizer.json"))
    shutil.copy(tokenizer, outside / f"{kind}-tokenizer.json")
    tokenizer.unlink()
    tokenizer.symlink_to(outside / f"{kind}-tokenizer.json")
    status, text = load(client, f"linked-{kind}", folder, kind)
    assert status == 422, text
    assert "outside the allowed roots" in text and "tokenizer.json" in text
    assert client.get("/ready").status_code == 200


def test_a_linked_subfolder_is_walked_as_the_folder_it_points_to(
    client: TestClient, inside: Path, outside: Path
) -> None:
    """A link to a folder under the roots is followed; a link in that folder still counts."""
    target = inside / "shared-onnx"
    target.mkdir()
    (outside / "weights.bin").write_bytes(b"\0" * 16)
    (target / "weights.bin").symlink_to(outside / "weights.bin")
    folder = embedding_copy(inside, "subfolder")
    (folder / "extra").symlink_to(target, target_is_directory=True)
    status, text = load(client, "st-subfolder", folder, "embedding")
    assert status == 422, text
    assert "weights.bin" in text


@pytest.mark.parametrize("root", ["/", "/tmp/..", "link"])
def test_the_top_folder_is_never_a_root(root: str, tmp_path: Path) -> None:
    if root == "link":
        (tmp_path / "top").symlink_to("/", target_is_directory=True)
        root = str(tmp_path / "top")
    with pytest.raises(ValidationError, match="cannot be /"):
        Settings(model_roots=f"{tmp_path},{root}")


def test_a_model_in_the_top_folder_is_its_own_root() -> None:
    """MLAPI_MODEL_DIR=/model: the default root is /model, not its parent /."""
    roots = model_roots(Settings(), [Path("/model")])
    assert Path("/") not in roots
    assert Path("/model") in roots
    assert Path("/models") in model_roots(Settings(), [Path("/models/model")])
