"""Experiment trackers through HF's ``report_to``: names checked up front, logs kept with the model.

``train.report_to`` takes HF's names (``tensorboard``, ``mlflow``, ``wandb``, ...; several with
commas). A tracker whose package is missing is a ConfigError naming the install command, raised
before any training instead of a RuntimeError from deep inside the Trainer. TensorBoard writes
under HF's default ``<output_dir>/runs``, which here would be the checkpoints folder that is
deleted at the end, so its events go to ``logs/`` of the saved model directory instead (unless
``TENSORBOARD_LOGGING_DIR`` says otherwise). MLflow follows its own environment
(``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``; ``sqlite:///mlflow.db`` in the working
directory by default).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from headstart.errors import ConfigError

# tracker -> (module to import, pip requirement)
PACKAGES = {
    "tensorboard": ("tensorboard", "headstart[tensorboard]"),
    "mlflow": ("mlflow", "headstart[mlflow]"),
    "wandb": ("wandb", "wandb"),
    "comet_ml": ("comet_ml", "comet_ml"),
    "clearml": ("clearml", "clearml"),
    "trackio": ("trackio", "trackio"),
}
LOGS = "logs"


def tracker_names(report_to: str | list[str] | None) -> list[str]:
    if not report_to:
        return []
    names = report_to if isinstance(report_to, list) else [n.strip() for n in str(report_to).split(",")]
    return [n for n in names if n and n != "none"]


def check_trackers(report_to: str | list[str] | None) -> list[str]:
    """The trackers asked for, each with its package installed; otherwise a ConfigError."""
    names = tracker_names(report_to)
    missing = [n for n in names if n in PACKAGES and importlib.util.find_spec(PACKAGES[n][0]) is None]
    if missing:
        installs = " ".join(f"'{PACKAGES[n][1]}'" for n in missing)
        raise ConfigError(
            f"the packages of the trackers in train.report_to ({', '.join(names)})",
            found=f"{', '.join(missing)} not installed",
            fix=f"pip install {installs}, or leave them out of report_to",
        )
    return names


@contextmanager
def tensorboard_logs(model_dir: Path, names: list[str]) -> Iterator[None]:
    """While the Trainer is built, point TensorBoard at ``model_dir/logs`` (unless the user did)."""
    if ("tensorboard" not in names and "all" not in names) or "TENSORBOARD_LOGGING_DIR" in os.environ:
        yield
        return
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(model_dir / LOGS)
    try:
        yield
    finally:
        del os.environ["TENSORBOARD_LOGGING_DIR"]
