"""Text-to-text classification with an encoder-decoder (T5): labels are generated as words.

Everything but the model is single-label text classification (data, checks, metrics, windows,
reports), composed from that task; the model scores each label's words by their likelihood
(``modeling/text_to_text.py``). Label names are the target words, so name them as words
("positive", not "1"): T5 was pre-trained on text. The saved directory is a stock seq2seq model:
``AutoModelForSeq2SeqLM`` + ``generate()`` writes the label (transformers 5 dropped the text2text
pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from transformers import AutoConfig, AutoModelForSeq2SeqLM

from headstart.config import DEFAULT_MAX_LENGTH, RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle, Examples
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.errors import ConfigError
from headstart.modeling.backbones import ENCODER_DECODER, attention_dropout_setting, load_tokenizer, quirks_for
from headstart.modeling.text_to_text import as_text_to_text, label_targets
from headstart.tasks.base import PredictOption
from headstart.tasks.common import texts
from headstart.tasks.text_classification.config import CHECKS, Config
from headstart.tasks.text_classification.task import Settings, TextClassification


class TextToText:
    name: ClassVar[str] = "text-to-text"
    aliases: ClassVar[tuple[str, ...]] = ("text2text", "seq2seq")  # also accepted as task.type
    long_inputs: ClassVar[str] = "truncated"
    pipeline_task: ClassVar[str] = "text2text-generation"
    pre_split: ClassVar[bool] = False
    max_length: ClassVar[int] = DEFAULT_MAX_LENGTH
    settings_type: ClassVar[type] = Settings
    config_type: ClassVar[type] = Config  # its keys of the task section
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]] = CHECKS
    predict_options: ClassVar[dict[str, PredictOption]] = {}
    input_fields: ClassVar[dict[str, str]] = {}  # texts come as the command's TEXT arguments

    def __init__(self) -> None:
        self.classification = TextClassification()  # data, scores and predictions are its own

    # -- model: an encoder-decoder that scores each label's words -------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        config = AutoConfig.from_pretrained(path)
        family = quirks_for(config).family
        if family != ENCODER_DECODER:
            raise ConfigError(
                "an encoder-decoder backbone (T5 family) for task.type text-to-text",
                found=f"'{cfg.model.name}', a{'n' if family[0] == 'e' else ''} {family}",
                fix="use a T5 model (e.g. google/flan-t5-small), or task.type text-classification",
            )
        setting = attention_dropout_setting(config, cfg.model.attention_dropout)  # none for T5 itself
        return _with_labels(AutoModelForSeq2SeqLM.from_pretrained(path, **setting), path, labels.names)

    def load_model(self, path: str, info: Any, **load: Any) -> Any:
        return _with_labels(AutoModelForSeq2SeqLM.from_pretrained(path, **load), path, info.labels)

    def card_usage(self, info: Any) -> list[str]:
        example = texts.example_input(info)
        return [
            "```python",
            "from headstart import Predictor",
            'predictor = Predictor.load("THIS_DIR")',
            f"predictor.predict([{example}])  # each label scored by the likelihood of its words",
            "",
            "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
            'model = AutoModelForSeq2SeqLM.from_pretrained("THIS_DIR")',
            'tokenizer = AutoTokenizer.from_pretrained("THIS_DIR")',
            f'written = model.generate(**tokenizer([{example}], return_tensors="pt"))',
            "tokenizer.batch_decode(written, skip_special_tokens=True)  # the label's words",
            "```",
            "",
            "Free generation can write words outside the label set; `Predictor` only ever picks a label.",
        ]

    def export_refusal(self, info: Any) -> str | None:
        return "a text-to-text model: scoring runs its decoder once per label, which a single graph does not hold"

    # -- the rest is single-label classification ------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        return self.classification.load_data(cfg, train, validation, test)

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> Examples:
        return self.classification.read_examples(source, info, options, need_label)

    def check_labels(self, examples: Examples, labels: LabelSet) -> None:
        self.classification.check_labels(examples, labels)

    def encode(self, examples: Examples, tokenizer: Any, labels: LabelSet, cfg: RunConfig) -> tuple[Any, dict]:
        return self.classification.encode(examples, tokenizer, labels, cfg)

    def check_split(self, examples: Examples, summary: dict[str, Any]) -> CheckSplit:
        return self.classification.check_split(examples, summary)

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        return self.classification.collator(tokenizer, pad_to_multiple_of)

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        return self.classification.loss(class_weights)

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        return self.classification.class_weights(setting, labels, train_data)

    def main_metric(self, labels: LabelSet) -> str:
        return self.classification.main_metric(labels)

    def metric_names(self, labels: LabelSet) -> list[str]:
        return self.classification.metric_names(labels)

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        return self.classification.train_metrics(prediction, labels, cfg)

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        return {}  # no classification layer to fold a calibration temperature into: the labels are generated

    def evaluate(self, run: Any, examples: Examples, batch_size: int = 64) -> dict[str, Any]:
        return self.classification.evaluate(run, examples, batch_size)

    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return self.classification.saved_columns(bundle, cfg)

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        return self.classification.saved_settings(bundle, cfg)

    def card_input(self, info: Any) -> str:
        return self.classification.card_input(info)

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        return self.classification.probe_batch(tokenizer, info, probe)

    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        return self.classification.predict(run, inputs, batch_size=batch_size, all_scores=all_scores, **options)

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        return self.classification.predictor_methods()

    def file_rows(self, info: Any, options: ReadOptions) -> Any:
        return self.classification.file_rows(info, options)

    def serving(self) -> Any:
        return self.classification.serving()


def _with_labels(model: Any, path: str, names: list[str]) -> Any:
    return as_text_to_text(model, label_targets(load_tokenizer(path), names))
