"""Predictor: a saved model directory -> predictions, in input order, for any task.

The Predictor loads the model, prepares it for the device and precision, and runs batches; what a
prediction is (labels and scores, entities, tags) is the task's (``Task.predict``), and so are the
task's further methods (``probabilities``, ``logits``, ``predict_tags``; ``Task.predictor_methods``).

Example::

    predictor = Predictor.load("headstart-model")
    predictor.predict(["what a film", "a waste of time"])
    # -> [{'label': 'fresh', 'score': 0.97}, {'label': 'rotten', 'score': 0.91}]
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from headstart.acceleration import autocast, choose_bf16, prepare
from headstart.artifacts import ModelInfo
from headstart.errors import ConfigError, HeadstartError, ModelLoadError
from headstart.modeling.backbones import load_tokenizer
from headstart.modeling.lora import load_adapted
from headstart.tasks import TASKS, Task, get_task, read_model_info

# At most this many tokens (padded) per forward pass: long inputs go in small batches, short ones
# in batches up to batch_size (padding and the attention's memory traffic grow with the batch).
MAX_BATCH_TOKENS = 2048


class Predictor:
    """Predictions from a model; ``bf16`` None (auto) uses bf16 autocast where the device computes
    bf16 natively (``acceleration/hardware.py``), and the attention kernel measured fastest for prediction."""

    def __init__(
        self, model: Any, tokenizer: Any, info: ModelInfo, task: Task, device: str, *, bf16: bool | None = None
    ) -> None:
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.info = info
        self.task = task
        self.device = device
        self.max_batch_tokens: int | None = MAX_BATCH_TOKENS
        on_torch = isinstance(model, torch.nn.Module)  # an ONNX export runs its own kernels
        self.bf16 = on_torch and choose_bf16(bf16, device)
        if on_torch:
            prepare(self.model, device=device, bf16=self.bf16, training=False)

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None, bf16: bool | None = None) -> Predictor:
        info = read_model_info(path)
        task = get_task(info.task)
        try:
            tokenizer = load_tokenizer(str(path))
            if info.runtime == "onnx":  # an export: same Predictor, ONNX Runtime inside
                from headstart.inference.onnx_runtime import OnnxModel

                model = OnnxModel(path, info)
            elif info.adapters and not info.adapters.get("merged", True):
                model = load_adapted(task, path, info)
            else:
                model = task.load_model(str(path), info)
        except HeadstartError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(
                "a complete saved model directory",
                found=f"{type(exc).__name__}: {exc}",
                fix="re-train, or restore the missing files",
                file=path,
            ) from None
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model, tokenizer, info, task, device, bf16=bf16)

    def forward(self, batch: Any) -> Any:
        """The model's outputs for one padded batch, in the chosen precision."""
        with autocast(self.device, self.bf16):
            return self.model(**batch)

    @property
    def labels(self) -> list[str]:
        return list(self.info.labels)

    def predict(self, inputs: Any, *, batch_size: int = 32, all_scores: bool = False, **options: Any) -> list[Any]:
        """One prediction per input, in input order: ``{"label", "score"}`` for a classifier
        (``"scores"`` for every label with ``all_scores``), entities or tags for a tagger.
        ``options`` are the task's own (``Task.predict_options``, e.g. ``decode`` for a tagger)."""
        self.check_options(options)
        return self.task.predict(self, inputs, batch_size=batch_size, all_scores=all_scores, **options)

    def check_options(self, options: dict[str, Any]) -> None:
        """Refuse an option the model's task does not take, or a value it does not allow."""
        check_options(self.task, self.info, options)

    def __getattr__(self, name: str) -> Any:
        # the task's own methods (probabilities, predict_tags, ...), bound to this predictor
        task = self.__dict__.get("task")
        methods = {} if task is None or name.startswith("_") else task.predictor_methods()
        if name not in methods:
            extra = f" (a {task.name} model adds: {', '.join(sorted(methods)) or 'nothing'})" if methods else ""
            raise AttributeError(f"'Predictor' object has no attribute {name!r}{extra}")
        return functools.partial(methods[name], self)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.task.predictor_methods()))


def check_options(task: Task, info: ModelInfo, options: dict[str, Any]) -> None:
    """Refuse a prediction option ``task`` does not take, or a value it does not allow (without
    loading the model: a driver that hands the work to other processes checks first)."""
    allowed = task.predict_options
    for name, value in options.items():
        if name not in allowed:
            takers = [other.name for other in TASKS.values() if name in other.predict_options]
            raise ConfigError(
                f"--{name} only for a {' or '.join(takers) or 'different'} model",
                found=f"a {info.task} model",
                fix=f"leave --{name} out",
            )
        choices = allowed[name].choices
        if value not in choices:
            raise ConfigError(f"{name} among {', '.join(map(str, choices))}", found=repr(value), fix="pick one")
