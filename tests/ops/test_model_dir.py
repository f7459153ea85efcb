"""Model folder resolution and the optional integrations wired at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentry_sdk
from fastapi.testclient import TestClient

from mlapi.app.factory import create_app
from mlapi.app.model_dir import resolve_model_dir
from mlapi.errors import ModelUnavailable
from mlapi.settings import Settings


def test_explicit_folder_is_used_as_is(model_dir: Path) -> None:
    assert resolve_model_dir(Settings(model_dir=model_dir)) == model_dir


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="config.json"):
        resolve_model_dir(Settings(model_dir=tmp_path))


def test_offline_download_fails_with_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelUnavailable) as caught:
        resolve_model_dir(Settings(model_id="no-such-org/no-such-model"))
    assert "MLAPI_MODEL_DIR" in str(caught.value)


def test_downloaded_folder_is_reused(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "models" / "some-model"
    target.mkdir(parents=True)
    (target / "config.json").write_text((model_dir / "config.json").read_text())
    assert resolve_model_dir(Settings(model_id="some-model")) == Path("models/some-model")


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Settings(redis_url="http://not-redis")
    with pytest.raises(ValueError):
        Settings(max_queue=1, max_texts=10)
    with pytest.raises(ValueError):
        Settings(log_level="LOUD")


def test_sentry_is_initialised_when_a_dsn_is_set(settings: Settings) -> None:
    dsn = "http://public@127.0.0.1:9/1"  # nothing listens there; events are dropped
    with TestClient(create_app(settings.model_copy(update={"sentry_dsn": dsn}))):
        assert sentry_sdk.get_client().is_active()
        assert sentry_sdk.get_client().dsn == dsn
    sentry_sdk.get_client().close()


def test_a_download_logs_a_line_before_and_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import huggingface_hub

    def fake_download(repo_id: str, *, local_dir: Path, **_: object) -> str:
        Path(local_dir).mkdir(parents=True)
        (Path(local_dir) / "config.json").write_text("{}")
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level("INFO", logger="mlapi.model_dir"):
        assert resolve_model_dir(Settings(model_id="org/model")) == Path("models/org/model")
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "downloading org/model into models/org/model",
        "downloaded org/model into models/org/model",
    ]
