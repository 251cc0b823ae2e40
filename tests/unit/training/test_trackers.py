"""report_to: TensorBoard and MLflow really log; a missing tracker package is a clear error up front."""

import pytest

from headstart import train
from headstart.errors import ConfigError
from tests_support import SENTIMENT


def _cfg(tiny, out, report_to):
    return {
        "model": {"name": str(tiny), "max_length": 32},
        "train": {
            "output_dir": str(out),
            "num_train_epochs": 2,
            "logging_steps": 1,
            "disable_tqdm": True,
            "report_to": report_to,
        },
    }


def test_tensorboard_and_mlflow_receive_the_run(tmp_path, tiny_model_dir, monkeypatch):
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # MLflow 3's default backend kind
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "headstart-test")
    result = train(_cfg(tiny_model_dir, tmp_path / "m", "tensorboard, mlflow"), train=SENTIMENT, validation=SENTIMENT)

    events = list((result.output_dir / "logs").rglob("events.out.tfevents*"))
    assert events, "TensorBoard events are kept in the saved directory"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert "train/loss" in acc.Tags()["scalars"] and "eval/accuracy" in acc.Tags()["scalars"]

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("headstart-test")
    (run,) = client.search_runs([experiment.experiment_id])
    assert "eval_accuracy" in run.data.metrics and "loss" in run.data.metrics
    assert run.data.params["learning_rate"] == "5e-05"


def test_a_tracker_that_is_not_installed_fails_before_training(tmp_path, tiny_model_dir):
    with pytest.raises(ConfigError, match=r"wandb not installed.*pip install 'wandb'"):
        train(_cfg(tiny_model_dir, tmp_path / "m", "wandb"), train=SENTIMENT)
    assert list(tmp_path.iterdir()) == []
