"""A sequence classifier on any backbone with a configurable head: pooling, dropout, an optional
hidden layer — the seed pages' ``TextClassifier`` pattern, saved and loaded like any HF model.

transformers' own ``...ForSequenceClassification`` classes fix the pooling per architecture
([CLS] + a pooler for BERT, the last token for decoders); this one pools as configured and runs
T5's encoder alone. It saves with ``save_pretrained`` (safetensors + config.json holding the
backbone's config), and importing headstart registers it with the Auto classes, so
``AutoModelForSequenceClassification.from_pretrained(DIR)`` and ``pipeline("text-classification",
model=DIR)`` load it too once ``import headstart`` has run.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from headstart.modeling.backbones import encoder_from_config, encoder_from_pretrained
from headstart.modeling.losses import LOSSES
from headstart.modeling.pooling import pool

ACTIVATIONS = {"tanh": nn.Tanh, "gelu": nn.GELU, "relu": nn.ReLU}


class HeadstartClassifierConfig(PretrainedConfig):
    model_type = "headstart_classifier"

    def __init__(
        self,
        encoder: dict[str, Any] | None = None,
        pooling: str = "cls",
        classifier_dropout: float = 0.1,
        head_hidden_size: int = 0,
        head_activation: str = "tanh",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder or {}
        self.pooling = pooling
        self.classifier_dropout = classifier_dropout
        self.head_hidden_size = head_hidden_size
        self.head_activation = head_activation


class HeadstartClassifier(PreTrainedModel):
    config_class = HeadstartClassifierConfig
    base_model_prefix = "classifier_model"  # not an attribute: base_model is the model itself
    main_input_name = "input_ids"
    # forward takes **kwargs but its loss is a per-batch mean: the Trainer must scale it for
    # gradient accumulation, which it skips for models that accept loss kwargs
    accepts_loss_kwargs = False

    def __init__(self, config: HeadstartClassifierConfig):
        super().__init__(config)
        self.encoder = encoder_from_config(AutoConfig.for_model(**config.encoder))
        width = self.encoder.config.hidden_size  # T5 maps it to d_model
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.hidden = None
        if config.head_hidden_size:
            self.hidden = nn.Sequential(
                nn.Linear(width, config.head_hidden_size),
                ACTIVATIONS[config.head_activation](),
                nn.Dropout(config.classifier_dropout),
            )
            width = config.head_hidden_size
        self.classifier = nn.Linear(width, config.num_labels)
        self._encoder_args = set(inspect.signature(self.encoder.forward).parameters)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        head = [self.classifier] + ([self.hidden[0]] if self.hidden is not None else [])
        if any(module is m for m in head):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    @classmethod
    def from_encoder(cls, path: str, attention_dropout: float | None = None, **settings: Any) -> HeadstartClassifier:
        """A new classifier whose backbone starts from the pretrained weights at ``path`` (with
        ``attention_dropout`` as its attention dropout rate when given)."""
        encoder = encoder_from_pretrained(path, attention_dropout)
        model = cls(HeadstartClassifierConfig(encoder=encoder.config.to_dict(), **settings))
        model.encoder = encoder
        return model

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        inputs = {k: v for k, v in inputs.items() if v is not None and k in self._encoder_args}
        hidden = self.encoder(**inputs).last_hidden_state  # [B, T, H]
        x = self.dropout(pool(hidden, attention_mask, self.config.pooling))  # [B, H]
        if self.hidden is not None:
            x = self.hidden(x)
        logits = self.classifier(x)  # [B, K]
        loss = None if labels is None else LOSSES[self.config.problem_type](logits, labels)
        states = (hidden,) if output_hidden_states else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=states)


AutoConfig.register(HeadstartClassifierConfig.model_type, HeadstartClassifierConfig)
AutoModelForSequenceClassification.register(HeadstartClassifierConfig, HeadstartClassifier)


def build_sequence_classifier(
    path: str, model_cfg: Any, problem_type: str, *, needs_bias: bool = False, **labels: Any
) -> Any:
    """A pretrained backbone with a fresh sequence-classification head, as ``model_cfg`` asks.

    transformers' own head class is kept whenever it does what is asked — plain ``pipeline()``
    then loads the saved model with no headstart installed; headstart's head is used for a chosen
    pooling, an extra hidden layer, a dropout the stock head has no setting for, and backbones
    whose stock head the quirks table rules out (T5: encoder only). ``needs_bias``: the output layer
    must have a bias (regression folds the target mean into it), which some stock heads lack.
    """
    from transformers import AutoConfig

    from headstart.modeling.backbones import attention_dropout_setting, quirks_for

    config = AutoConfig.from_pretrained(path)
    quirks = quirks_for(config)
    dropout = model_cfg.classifier_dropout
    custom = (
        model_cfg.pooling is not None
        or model_cfg.head_hidden_size > 0
        or not quirks.stock_head
        or (dropout is not None and not hasattr(config, "classifier_dropout"))
        or (needs_bias and not quirks.head_bias)
    )
    settings: dict[str, Any] = {**labels, "problem_type": problem_type}
    if custom:
        return HeadstartClassifier.from_encoder(
            path,
            pooling=model_cfg.pooling or quirks.pooling,
            classifier_dropout=0.1 if dropout is None else dropout,
            head_hidden_size=model_cfg.head_hidden_size,
            head_activation=model_cfg.head_activation,
            attention_dropout=model_cfg.attention_dropout,
            **settings,
        )
    if dropout is not None:
        settings["classifier_dropout"] = dropout
    settings.update(attention_dropout_setting(config, model_cfg.attention_dropout))
    return AutoModelForSequenceClassification.from_pretrained(path, **settings)
