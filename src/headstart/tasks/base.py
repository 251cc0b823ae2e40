"""The task contract: everything the training run, the Predictor, batch prediction, the server,
the model card and the ONNX export need from a task.

A task is a Protocol, not a base class: each package under ``tasks/`` implements it, shared
behaviour is composed from ``tasks/common``, and the layers above (``training``, ``inference``,
``evaluation``, ``serving``, ``cli``) call these methods and never name a task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from headstart.artifacts import ModelInfo
from headstart.config import RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.data.rows import Chunk


@dataclass(frozen=True)
class PredictOption:
    """A keyword a task's ``predict()`` takes beyond the common ones: its allowed values and help."""

    choices: tuple[Any, ...]
    help: str


@dataclass
class TrainingSetup:
    """A task's own Trainer (``OwnTrainer``): headstart's Trainer is put in front of ``trainer_class``
    (token budgets, throughput, the evaluation order), so only the task's trainer's hooks differ."""

    trainer_class: type  # a transformers.Trainer subclass (TRL's SFTTrainer, Seq2SeqTrainer)
    arguments_class: type  # its TrainingArguments subclass (SFTConfig, Seq2SeqTrainingArguments)
    arguments: dict[str, Any]  # values of the fields the subclass adds
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)  # further keywords of trainer_class
    measured_lengths: bool = True  # the rows keep encode()'s lengths (not where the trainer packs them)
    on_trainer: Callable[[Any], None] | None = None  # given the Trainer once it is built


class ModelRun(Protocol):
    """What a task's prediction code is handed: a loaded model ready to run (``inference.Predictor``)."""

    model: Any
    tokenizer: Any
    info: ModelInfo
    device: str
    max_batch_tokens: int | None

    def forward(self, batch: Any) -> Any:
        """The model's outputs for one padded batch, in the chosen precision."""
        ...


class FileRows(Protocol):
    """How ``predict_file`` turns the streamed rows of a file into inputs and predictions back into rows."""

    stream_options: dict[str, Any]  # open_stream keywords (e.g. CoNLL layout)

    def __call__(self, record: Any, source: str) -> Any:
        """One row's model input; raises ``data.rows.RowProblem`` for a row that has none."""
        ...

    def chunks(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """The chunks as the task predicts them (e.g. with neighbouring sentences for context)."""
        ...

    def predict(self, run: Any, chunk: Chunk, batch_size: int, options: dict[str, Any]) -> list[Any]:
        """One prediction per input of the chunk, in order."""
        ...

    def merge(self, fields: dict[str, Any], value: Any, prediction: Any) -> dict[str, Any]:
        """The output row: the input row's fields, then the prediction's."""
        ...


class ServingSpec(Protocol):
    """The task's part of the HTTP API and its page (``serving/``)."""

    input_type: Any  # the pydantic type of one input (the request's ``inputs`` holds one or a list)
    prediction_type: Any  # the pydantic type of one prediction (the OpenAPI response schema)
    page_script: str  # JavaScript defining render(text, prediction) -> Node for the page
    input_help: str  # one input in words, for the error a malformed request gets

    def inputs(self, items: list[Any], info: ModelInfo) -> list[Any]:
        """Validated request items as the Predictor takes them; raises ValueError with what is wrong."""
        ...

    def predict(self, run: Any, items: list[Any], batch_size: int) -> list[Any]:
        """Every prediction the API may return (``all_scores`` trims them afterwards)."""
        ...

    def trim(self, predictions: list[Any], all_scores: bool) -> list[Any]:
        """The predictions as the request asked for them."""
        ...

    def facts(self, info: ModelInfo) -> dict[str, Any]:
        """Task facts for ``GET /v1/model`` (e.g. ``is_pair``)."""
        ...


class Task(Protocol):
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]]  # other names accepted as task.type (e.g. "ner")
    pipeline_task: ClassVar[str]  # the transformers.pipeline task that loads a saved model
    long_inputs: ClassVar[str]  # what happens past max_length: "truncated" or "windowed"
    pre_split: ClassVar[bool]  # inputs are words already split (the tokenizer needs to know)
    max_length: ClassVar[int]  # model.max_length where the config leaves it null
    settings_type: ClassVar[type]  # the dataclass of the task's own headstart.json fields
    config_type: ClassVar[type]  # the dataclass of its keys of the run config's task section
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]]  # task section -> problems found
    predict_options: ClassVar[dict[str, PredictOption]]  # predict() keywords of this task (CLI flags too)
    input_fields: ClassVar[dict[str, str]]  # named input fields `headstart predict` takes as flags: name -> help

    # -- data -----------------------------------------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        """Train / validation / test examples and the label set (from config files or in-memory data)."""
        ...

    def read_examples(self, source: Any, info: ModelInfo, options: ReadOptions, need_label: bool) -> Any:
        """Examples from a file for evaluate/predict, with the columns or layout used in training."""
        ...

    def check_labels(self, examples: Any, labels: LabelSet) -> None:
        """Raise LabelError for a label that the model does not know."""
        ...

    def encode(self, examples: Any, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict[str, Any]]:
        """A ``datasets.Dataset`` of unpadded model inputs with ``labels``, and a summary for the report
        (``examples``, ``tokens``, ``lengths`` and what was truncated or windowed)."""
        ...

    def check_split(self, examples: Any, summary: dict[str, Any]) -> CheckSplit:
        """The split as the data checks see it: texts, one label per item, locations, token lengths."""
        ...

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        """Pads a batch dynamically (to its longest sequence, rounded up to ``pad_to_multiple_of``)."""
        ...

    # -- model and loss -------------------------------------------------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        """A pretrained backbone with a fresh head for ``labels``."""
        ...

    def load_model(self, path: str, info: ModelInfo, **load: Any) -> Any:
        """A fine-tuned model from a saved directory; ``load`` goes to ``from_pretrained`` (a saved
        config on the base model's weights, for a directory of LoRA adapters alone)."""
        ...

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        """A Trainer ``compute_loss_func`` weighting the classes (``task.class_weights``)."""
        ...

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        """The loss weights of ``task.class_weights`` in label2id order, from the encoded training set."""
        ...

    # -- scores ---------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        """The metric that picks the best checkpoint."""
        ...

    def metric_names(self, labels: LabelSet) -> list[str]:
        """The scalar metrics reported during training (valid values of metric_for_best_model)."""
        ...

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        """Trainer's compute_metrics: scalar scores from an EvalPrediction."""
        ...

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        """Settings fitted on validation after training (a decision threshold): changes to ``settings``."""
        ...

    def evaluate(self, run: Any, examples: Any, batch_size: int = 64) -> dict[str, Any]:
        """All scores of a Predictor on labeled examples (the numbers in metrics.json)."""
        ...

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        """The input columns or layout recorded in headstart.json, read again by predict/evaluate."""
        ...

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Any:
        """The task's own headstart.json fields, a ``settings_type``."""
        ...

    def card_usage(self, info: ModelInfo) -> list[str]:
        """The model card's "Use it" section (Markdown lines)."""
        ...

    def card_input(self, info: ModelInfo) -> str:
        """What the model reads, for the model card ("single texts, up to 256 tokens.")."""
        ...

    def export_refusal(self, info: ModelInfo) -> str | None:
        """Why the model cannot be one ONNX graph, or None when it can."""
        ...

    def probe_batch(self, tokenizer: Any, info: ModelInfo, texts: list[str]) -> Any:
        """``texts`` tokenized as the model reads them (pairs for a pair model), padded, as tensors."""
        ...

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        """One prediction per input, in input order (``Predictor.predict``)."""
        ...

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        """Further public Predictor methods of this task, each called as ``fn(predictor, ...)``."""
        ...

    def file_rows(self, info: ModelInfo, options: ReadOptions) -> FileRows:
        """How a file's rows become inputs and outputs (``predict_file``)."""
        ...

    def serving(self) -> ServingSpec:
        """The task's request/response schemas and page (imports the ``serve`` extra's pydantic)."""
        ...


class OwnTrainer(Protocol):
    """What a task adds to train with a Trainer of its own (TRL's ``SFTTrainer`` for generation);
    a task without it trains with headstart's Trainer alone."""

    def training_setup(self, cfg: RunConfig, tokenizer: Any) -> TrainingSetup:
        """The Trainer class, its arguments and keywords for this run."""
        ...


TEACHER_COLUMN = "teacher_logits"  # the training rows' column of the teacher's scores (distillation)


class Distillable(Protocol):
    """What a task adds for knowledge distillation (``headstart distill``); a task without it
    cannot be distilled yet, and says so."""

    def teacher_targets(self, teacher: Any, examples: Any, owner: list[int], labels: LabelSet) -> list[Any]:
        """The teacher's logits for each encoded training row (``owner``: the example of each row,
        from ``encode``'s summary), its labels in the order of ``labels``."""
        ...

    def distillation_loss(self, temperature: float, alpha: float) -> Callable[..., Any]:
        """``loss(student_outputs, teacher_targets, gold)`` (``gold``: the batch's label tensors by
        name): the gold labels' loss weighted ``alpha`` and the teacher's softened scores' ``1 - alpha``."""
        ...

    def with_teacher_labels(self, teacher: Any, train: Any, extra: Any) -> Any:
        """``train`` with ``extra`` (unlabeled examples read in the teacher's columns) appended,
        labelled with the teacher's predictions."""
        ...
