"""Text-to-text classification with an encoder-decoder (T5): labels are generated as words.

Everything but the model is single-label text classification (data, checks, metrics, windows,
reports); the model scores each label's words by their likelihood (``modeling/text_to_text.py``).
Label names are the target words, so name them as words ("positive", not "1"): T5 was
pre-trained on text. The saved directory is a stock seq2seq model: ``AutoModelForSeq2SeqLM``
+ ``generate()`` writes the label (transformers 5 dropped the text2text pipeline).
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import AutoConfig, AutoModelForSeq2SeqLM

from headstart.artifacts import ModelInfo
from headstart.config import RunConfig
from headstart.data.labels import LabelSet
from headstart.errors import ConfigError
from headstart.modeling.backbones import ENCODER_DECODER, attention_dropout_setting, load_tokenizer, quirks_for
from headstart.modeling.text_to_text import as_text_to_text, label_targets
from headstart.tasks.text_classification import TextClassification


class TextToText(TextClassification):
    name: ClassVar[str] = "text-to-text"
    pipeline_task: ClassVar[str] = "text2text-generation"

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

    def load_model(self, path: str) -> Any:
        return _with_labels(AutoModelForSeq2SeqLM.from_pretrained(path), path, ModelInfo.read(path).labels)


def _with_labels(model: Any, path: str, names: list[str]) -> Any:
    return as_text_to_text(model, label_targets(load_tokenizer(path), names))
