"""The task section's keys of named-entity recognition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headstart.config import setting
from headstart.tasks.common import options
from headstart.tasks.token_classification.decoding import DECODERS


@dataclass
class Config:
    crf: bool = setting(
        False, "NER: put a CRF layer on the encoder (valid tag sequences, Viterbi decoding).", flags=("--crf",)
    )
    tag_scheme: str | None = setting(
        None,
        "NER: the input files' tag scheme; detected when null. Models train on IOB2.",
        choices=(None, "iob1", "iob2", "bioes"),
    )
    decode: str = setting(
        "viterbi",
        "NER softmax head: 'viterbi' returns the most probable valid IOB2 sequence of each sentence; "
        "'argmax' takes each word's best tag and repairs invalid moves, as transformers.pipeline "
        "does. A CRF head always decodes with its learned transitions.",
        flags=("--decode",),
        choices=DECODERS,
    )
    class_weights: str | dict | None = options.class_weights()
    label_all_tokens: bool = setting(False, "NER: label every sub-token of a word, not only the first.")
    stride: int = options.stride()
    context: int = setting(
        0,
        "NER: sub-tokens of the neighbouring sentences of the same document fed on each side of a "
        "sentence (CoNLL -DOCSTART- sections; 0 = each sentence alone). Longer inputs, slower training.",
    )


def check_crf_weights(task: Any) -> list[str]:
    if task.crf and task.class_weights is not None:
        return ["task.class_weights applies to softmax heads: a CRF's loss is a whole-sequence likelihood"]
    return []


CHECKS = (options.check_stride, check_crf_weights)
