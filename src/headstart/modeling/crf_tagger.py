"""A token classifier with a CRF on top of any encoder, saved and loaded like any HF model.

The CRF runs over words, not sub-tokens: ``word_mask`` [batch, tokens] marks the first sub-token
of each word the window owns; those positions are packed to the left into [batch, words] before
the CRF. The model saves with ``save_pretrained`` (safetensors + config.json holding the
encoder's config), and importing headstart registers it with the Auto classes, so
``AutoModelForTokenClassification.from_pretrained(DIR)`` loads it too.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForTokenClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput

from headstart.data.tags import allowed_transition
from headstart.modeling.backbones import encoder_from_config, encoder_from_pretrained
from headstart.modeling.crf import CRF

IGNORE = -100


class CrfTaggerConfig(PretrainedConfig):
    model_type = "headstart_crf_tagger"

    def __init__(self, encoder: dict[str, Any] | None = None, classifier_dropout: float = 0.1, **kwargs: Any):
        super().__init__(**kwargs)
        self.encoder = encoder or {}
        self.classifier_dropout = classifier_dropout


@dataclass
class CrfTaggerOutput(TokenClassifierOutput):
    decoded: torch.Tensor | None = None  # [batch, tokens]: the Viterbi tag at word starts, -100 elsewhere


def transition_constraints(id2label: dict[int, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Allowed IOB2 moves [K, K] and allowed first tags [K] for the label names."""
    names = [id2label[i] for i in range(len(id2label))]
    allowed = torch.tensor([[allowed_transition(a, b) for b in names] for a in names])
    start = torch.tensor([allowed_transition("O", b) for b in names])
    return allowed, start


class CrfTagger(PreTrainedModel):
    config_class = CrfTaggerConfig
    base_model_prefix = "tagger"
    main_input_name = "input_ids"
    # forward takes **kwargs but its loss is a per-batch mean: the Trainer must scale it for
    # gradient accumulation, which it skips for models that accept loss kwargs
    accepts_loss_kwargs = False

    def __init__(self, config: CrfTaggerConfig):
        super().__init__(config)
        encoder_config = AutoConfig.for_model(**config.encoder)
        self.encoder = encoder_from_config(encoder_config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(encoder_config.hidden_size, config.num_labels)
        allowed, start = transition_constraints({int(k): v for k, v in config.id2label.items()})
        self.crf = CRF(config.num_labels, allowed, start)
        self._encoder_args = set(inspect.signature(self.encoder.forward).parameters)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if module is self.classifier:
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    @classmethod
    def from_encoder(
        cls,
        path: str,
        id2label: dict[int, str],
        label2id: dict[str, int],
        classifier_dropout: float = 0.1,
        attention_dropout: float | None = None,
    ) -> CrfTagger:
        """A new tagger whose encoder starts from the pretrained weights at ``path`` (with
        ``attention_dropout`` as its attention dropout rate when given)."""
        encoder = encoder_from_pretrained(path, attention_dropout)
        config = CrfTaggerConfig(
            encoder=encoder.config.to_dict(),
            id2label=id2label,
            label2id=label2id,
            classifier_dropout=classifier_dropout,
        )
        model = cls(config)
        model.encoder = encoder
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        word_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> CrfTaggerOutput:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        inputs = {k: v for k, v in inputs.items() if v is not None and k in self._encoder_args}
        hidden = self.encoder(**inputs).last_hidden_state  # [B, T, H]
        emissions = self.classifier(self.dropout(hidden))  # [B, T, K]
        if word_mask is None:  # without alignment info, every labeled (or real) token is a step
            word_mask = (labels != IGNORE) if labels is not None else attention_mask.bool()
        positions, steps = _pack(word_mask.bool())  # [B, W] token index of each word, [B, W] valid
        word_emissions = emissions.gather(1, positions.unsqueeze(-1).expand(-1, -1, emissions.size(-1)))
        loss = None
        if labels is not None:
            word_tags = labels.gather(1, positions).masked_fill(~steps, 0).clamp(min=0)
            loss = self.crf.nll(word_emissions.float(), word_tags, steps)
        decoded = decode_words(self.crf, emissions, word_mask)
        return CrfTaggerOutput(loss=loss, logits=emissions, decoded=decoded)


def decode_words(crf: CRF, emissions: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
    """The Viterbi tag of each word start [B, T] (-100 elsewhere) from token emissions [B, T, K].

    Shared by the PyTorch model and the ONNX runtime, which exports only the emissions.
    """
    positions, steps = _pack(word_mask.bool())
    word_emissions = emissions.gather(1, positions.unsqueeze(-1).expand(-1, -1, emissions.size(-1)))
    decoded = torch.full_like(word_mask, IGNORE, dtype=torch.long)
    for b, path in enumerate(crf.decode(word_emissions.float(), steps)):
        decoded[b, positions[b, : len(path)]] = torch.tensor(path, dtype=torch.long, device=decoded.device)
    return decoded


def _pack(word_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Token positions of the word starts, left-aligned: ([B, W] indices, [B, W] validity)."""
    counts = word_mask.sum(1)
    width = max(int(counts.max()) if counts.numel() else 0, 1)
    # A stable sort on "not a word start" moves word starts to the front in their original order.
    order = torch.sort((~word_mask).int(), dim=1, stable=True).indices[:, :width]
    steps = torch.arange(width, device=word_mask.device).unsqueeze(0) < counts.unsqueeze(1)
    return order, steps


AutoConfig.register(CrfTaggerConfig.model_type, CrfTaggerConfig)
AutoModelForTokenClassification.register(CrfTaggerConfig, CrfTagger)
