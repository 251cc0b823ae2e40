"""Text-to-text classification: an encoder-decoder (T5) that writes the label as words.

Each label is a target word sequence (its name: "positive", "sports"). Training is ordinary
seq2seq fine-tuning on the gold label's words. Prediction never free-generates: every label's
sequence log-likelihood is computed by teacher forcing (one encoder pass, one decoder pass per
label), which is exact constrained decoding over the label set and gives each label a score;
the logits of the returned output are these log-likelihoods [batch, labels], so the Predictor,
the metrics and the Trainer treat the model like any classifier.

The class is the backbone's own generation class with this forward added, so the weights and
``save_pretrained`` are the stock ones (config.json keeps the stock architecture):
``AutoModelForSeq2SeqLM.from_pretrained(DIR).generate(...)`` writes the labels.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from transformers.modeling_outputs import SequenceClassifierOutput

IGNORE = -100


def label_targets(tokenizer: Any, names: list[str]) -> torch.Tensor:
    """[labels, L] token ids of each label's words (with end-of-sequence), padded with -100."""
    ids = tokenizer(text_target=names)["input_ids"]
    width = max(len(x) for x in ids)
    return torch.tensor([x + [IGNORE] * (width - len(x)) for x in ids])


@cache
def _subclass(base: type) -> type:
    """``base`` (e.g. T5ForConditionalGeneration) with label scoring as its plain forward."""

    class TextToTextClassifier(base):  # type: ignore[misc, valid-type]
        accepts_loss_kwargs = False  # the loss is a per-batch mean: the Trainer scales it for accumulation

        def forward(self, input_ids: Any = None, attention_mask: Any = None, labels: Any = None, **kwargs: Any) -> Any:
            if kwargs.get("decoder_input_ids") is not None or kwargs.get("encoder_outputs") is not None:
                return super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
            return self.score_labels(input_ids, attention_mask, labels)

        def score_labels(self, input_ids: Any, attention_mask: Any, labels: Any = None) -> SequenceClassifierOutput:
            targets = self.label_ids.to(input_ids.device)  # [K, L]
            k, width = targets.shape
            b = input_ids.size(0)
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            encoded = self.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
            hidden = encoded.last_hidden_state.repeat_interleave(k, 0)  # [B*K, T, H]
            tiled = targets.repeat(b, 1)  # [B*K, L]: every label for every input
            out = super().forward(
                encoder_outputs=(hidden,),
                attention_mask=attention_mask.repeat_interleave(k, 0),
                decoder_input_ids=self.prepare_decoder_input_ids_from_labels(labels=tiled),  # shifted right
            )
            logp = out.logits.float().log_softmax(-1)  # [B*K, L, V]
            real = tiled != IGNORE
            token = logp.gather(-1, tiled.clamp(min=0).unsqueeze(-1)).squeeze(-1) * real  # [B*K, L]
            scores = token.sum(-1).view(b, k)  # the log-likelihood of each label's words
            loss = None
            if labels is not None:  # the gold label's words, mean NLL per token (as seq2seq training)
                lengths = real.view(b, k, width).sum(-1).float()
                gold = labels.view(-1, 1)
                loss = -(scores.gather(1, gold) / lengths.gather(1, gold)).mean()
            return SequenceClassifierOutput(loss=loss, logits=scores)

        def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
            # saved as the stock class (config.json names it), so that pipeline() loads it
            cls = self.__class__
            self.__class__ = base
            try:
                return base.save_pretrained(self, *args, **kwargs)
            finally:
                self.__class__ = cls

    TextToTextClassifier.__name__ = TextToTextClassifier.__qualname__ = f"TextToText{base.__name__}"
    return TextToTextClassifier


def as_text_to_text(model: Any, label_ids: torch.Tensor) -> Any:
    """Give a loaded seq2seq LM the label-scoring forward, in place (no copy of the weights)."""
    model.__class__ = _subclass(type(model))
    model.register_buffer("label_ids", label_ids, persistent=False)
    return model
