"""Knowledge distillation: a fast student learns a fine-tuned teacher's scores (Hinton et al., 2015).

The student trains on the HF Trainer as any run does, with one change to the loss: beside the gold
labels' cross-entropy (weight ``alpha``) it matches the teacher's softened distribution (KL at
``temperature``, weight ``1 - alpha``). The teacher's logits are computed once, before training.
Unlabeled in-domain text, when given, is labelled by the teacher and added to the training set,
which is where a student gains most. The student is a normal saved directory; its card names the
teacher and both scores.

Example::

    from headstart import distill
    result = distill({"data": {"train": "train.csv", "validation": "dev.csv"}, "model": {"name": "minilm"}},
                     teacher="runs/mpnet", unlabeled="more-reviews.csv")
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.config import RunConfig
from headstart.data.examples import DataBundle, Examples, Source
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.errors import ConfigError, DataError
from headstart.inference.predictor import Predictor
from headstart.tasks import TASKS, Task, get_task
from headstart.tasks.base import TEACHER_COLUMN
from headstart.training.run import TrainResult, as_config, run_training
from headstart.training.trainer import HeadstartTrainer

logger = logging.getLogger(__name__)


class DistillationTrainer(HeadstartTrainer):
    """Training batches carry the teacher's scores; the task's loss compares the student's outputs
    with them and with the gold labels (``label_names``: ``labels``, or QA's start and end).
    Evaluation batches have none and get the model's own loss."""

    distill_loss: Any = None

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if TEACHER_COLUMN not in self._signature_columns:
            self._signature_columns.append(TEACHER_COLUMN)

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        teacher = inputs.pop(TEACHER_COLUMN, None)
        if teacher is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        gold = {name: inputs.pop(name) for name in (self.label_names or ["labels"]) if name in inputs}
        outputs = model(**inputs)
        loss = self.distill_loss(outputs, teacher.to(self.args.device), gold)
        return (loss, outputs) if return_outputs else loss


@dataclass
class Distillation:
    """A teacher and how the student learns from it (what ``run_training`` applies)."""

    teacher_dir: Path
    teacher: Predictor
    temperature: float = 2.0
    alpha: float = 0.5
    unlabeled: Source | None = None
    unlabeled_examples: int = 0
    trainer_class: type = DistillationTrainer

    def extend(self, task: Task, bundle: DataBundle) -> DataBundle:
        """The bundle with the unlabeled texts added to train, labelled by the teacher; training data
        of another kind than the teacher's (pairs for a single-text teacher) is refused."""
        self.check_labels(bundle.labels)
        teacher_pairs = bool(getattr(self.teacher.info.settings, "is_pair", False))
        if bool(getattr(bundle.train, "is_pair", False)) != teacher_pairs:
            kind = {True: "text pairs", False: "single texts"}
            raise DataError(
                f"training inputs of the teacher's kind ({kind[teacher_pairs]})",
                found=kind[not teacher_pairs],
                fix="distill on data like the teacher's: the same columns",
            )
        if self.unlabeled is None:
            return bundle
        # read with the teacher's columns: its kind of input, without labels
        extra = task.read_examples(self.unlabeled, self.teacher.info, ReadOptions(), False)
        self.unlabeled_examples = len(extra)
        logger.info("distillation: %d unlabeled examples labelled by the teacher and added", len(extra))
        return dataclasses.replace(bundle, train=task.with_teacher_labels(self.teacher, bundle.train, extra))

    def check_labels(self, labels: LabelSet) -> None:
        missing = [name for name in labels.names if name not in self.teacher.info.labels]
        if missing:
            raise DataError(
                f"training labels the teacher knows ({', '.join(self.teacher.info.labels)})",
                found=f"labels it does not: {', '.join(missing)}",
                fix="distill on the teacher's own kind of data, or retrain the teacher with these labels",
            )

    def targets(self, task: Task, examples: Examples, owner: list[int], labels: LabelSet) -> list[Any]:
        logger.info("distillation: the teacher scores %d training examples once", len(examples))
        return task.teacher_targets(self.teacher, examples, owner, labels)

    def record(self) -> dict[str, Any]:
        """What the student's headstart.json and card say about its teacher."""
        metrics = _teacher_metrics(self.teacher_dir)
        return {
            "teacher": str(self.teacher_dir),
            "teacher_base_model": self.teacher.info.base_model,
            "teacher_scores": metrics,
            "temperature": self.temperature,
            "alpha": self.alpha,
            "unlabeled_examples": self.unlabeled_examples,
        }


def _teacher_metrics(path: Path) -> dict[str, dict[str, float]]:
    import json

    file = path / "metrics.json"
    if not file.is_file():
        return {}
    raw = json.loads(file.read_text(encoding="utf-8"))
    return {
        split: {k: v for k, v in scores.items() if isinstance(v, float)}
        for split, scores in raw.items()
        if split in ("validation", "test") and isinstance(scores, dict)
    }


def distill(
    config: RunConfig | dict[str, Any] | str | Path | None = None,
    *,
    teacher: str | Path,
    student: str | None = None,
    temperature: float = 2.0,
    alpha: float = 0.5,
    unlabeled: Source | None = None,
    train: Source | None = None,
    validation: Source | None = None,
    test: Source | None = None,
) -> TrainResult:
    """Train a student (the config's model, or ``student``) on the teacher's scores and the gold
    labels; saved like any trained model, its card naming the teacher.

    Args:
        teacher: A directory written by headstart train (or tune): the model to learn from.
        student: The student backbone (default: the config's model.name, minilm unless set).
        temperature: Softens both distributions before they are compared (higher: more of the
            teacher's ranking of the wrong labels is passed on).
        alpha: Weight of the gold labels' loss; 1 - alpha goes to matching the teacher.
        unlabeled: Unlabeled in-domain texts (a file like the training data, without labels):
            labelled by the teacher and added to the training set.
    """
    cfg = as_config(config)
    teacher_dir = Path(teacher)
    if not temperature > 0 or not 0 <= alpha <= 1:
        raise ConfigError(
            "temperature > 0 and alpha in [0, 1]", found=f"temperature {temperature}, alpha {alpha}", fix="fix them"
        )
    predictor = Predictor.load(teacher_dir)
    task = get_task(predictor.info.task)
    if not hasattr(task, "teacher_targets"):
        can = ", ".join(name for name, kind in TASKS.items() if hasattr(kind, "teacher_targets"))
        raise ConfigError(
            f"a teacher of a task that can be distilled ({can})",
            found=f"a {predictor.info.task} model",
            fix="distill a teacher of one of those tasks; the others cannot be distilled yet",
            file=str(teacher_dir),
        )
    cfg.task.type = predictor.info.task
    if getattr(cfg.task, "crf", False):
        raise ConfigError(
            "a softmax tagger as the student: it learns the teacher's per-word scores, which a CRF's do not match",
            found="task.crf: true",
            fix="distill without --crf",
        )
    if student:
        cfg.model.name = student
    plan = Distillation(teacher_dir, predictor, temperature, alpha, unlabeled)
    return run_training(cfg, train, validation, test, distillation=plan)


__all__ = ["Distillation", "DistillationTrainer", "distill"]
