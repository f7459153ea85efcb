"""The hyper-parameters of a job are the trainer's own options, passed through unchanged."""

from __future__ import annotations

from pathlib import Path

from mlapi.training.schemas import Hyperparameters, TrainRequest
from mlapi.training.service import trainer_args
from trainer.cli import parse
from trainer.config import TrainConfig


def test_every_hyperparameter_is_a_trainer_option() -> None:
    assert set(Hyperparameters.model_fields) <= set(TrainConfig.__dataclass_fields__)


def test_the_arguments_parse_to_the_same_config() -> None:
    hyper = Hyperparameters(
        max_length=16,
        epochs=2.5,
        max_steps=7,
        batch_size=4,
        learning_rate=1e-3,
        warmup_ratio=0.1,
        seed=3,
        eval_size=12,
        max_train_examples=99,
        save_every=5,
        text_column="text",
        label_column="y",
        export_onnx=True,
    )
    request = TrainRequest(
        model="m",
        base_model="/base",
        dataset="/d.csv",
        labels=["a", "b", "c"],
        hyperparameters=hyper,
    )
    config = parse(list(trainer_args(request, Path("/out"))))
    assert config.base_model == "/base" and config.output == Path("/out")
    assert config.data == Path("/d.csv") and config.labels == ("a", "b", "c")
    for name, value in hyper.model_dump().items():
        assert getattr(config, name) == value, name


def test_defaults_match_the_trainers() -> None:
    config = parse(
        list(trainer_args(TrainRequest(model="m", base_model="/b", dataset="/d.tsv"), Path("/o")))
    )
    defaults = TrainConfig(base_model="/b", output=Path("/o"), data=Path("/d.tsv"))
    assert config == defaults
