"""The last layer computes only the first token when the head reads nothing else.

A BERT-style sequence classifier reads one vector: transformers' BERT head pools [CLS] (the
first token), RoBERTa's and ELECTRA's heads take ``features[:, 0]``, and headstart's own head with
``pooling: cls`` takes ``hidden[:, 0]``. Every other token's output of the last layer is computed
and thrown away. In that layer only the keys and values need every token (the first token
attends to all of them); its query, attention, output projection and feed-forward need only the
first. For minilm (6 layers, 384 wide) on 300-token IMDB reviews that is about 14 % of the
model's FLOPs, in training and in prediction; the logits are the same (the first token's row is
computed by the same operations; only matmul blocking may round differently, ~1e-7 in fp32).

``use_first_token_layer(model)`` gives the model (the classifier) and its last layer
instance-level ``forward`` methods; the layer computes the first token alone only while the
classifier's own forward runs, in that thread, and not when that call asks for hidden states or
attentions, nor with gradient checkpointing (whose backward reruns the layer outside that call).
The backbone called on its own (``Embedder.from_model`` on a ``Predictor``'s model, the server's
embeddings) computes every token. Nothing is saved with the model (a run-time choice like the
attention kernel), so a saved model loads and runs in plain transformers unchanged. It applies
only where the table in ``backbones.py`` marks the type ``first_token_layer`` (layers shaped
like ``BertLayer``: BERT, RoBERTa, XLM-R, ELECTRA) and the head is known to read the first token
alone; anything else (token classification, mean pooling, decoders, T5) is left as it is.
"""

from __future__ import annotations

import functools
import threading
import types
from typing import Any

import torch

from headstart.modeling.backbones import backbone_configs, quirks_for

MARK = "_headstart_first_token"  # on the classifier: whether its forward makes the last layer lean
_ACTIVE = threading.local()  # ids of the layers whose classifier's forward is running in this thread


def reads_first_token_only(model: torch.nn.Module) -> bool:
    """Whether ``model``'s head reads nothing of the last layer but the first token's state."""
    configs = backbone_configs(model)
    if not configs or not all(quirks_for(c).first_token_layer for c in configs):
        return False
    config = model.config
    if str(getattr(config, "model_type", "")) == "headstart_classifier":
        return getattr(config, "pooling", None) == "cls"
    # transformers' stock heads of the marked types: BERT's pooler on [CLS], RoBERTa / XLM-R /
    # ELECTRA's classification heads on features[:, 0]
    return type(model).__name__.endswith("ForSequenceClassification")


def last_layer(model: torch.nn.Module) -> torch.nn.Module | None:
    """The last encoder layer of a ``BertLayer``-shaped backbone (None when the shape differs)."""
    for module in model.modules():
        layers = getattr(getattr(module, "encoder", None), "layer", None)
        if isinstance(layers, torch.nn.ModuleList) and len(layers):
            layer = layers[-1]
            attention = getattr(layer, "attention", None)
            parts = (getattr(attention, "self", None), getattr(attention, "output", None))
            shaped = all(p is not None for p in parts) and all(
                hasattr(layer, name) for name in ("intermediate", "output", "feed_forward_chunk")
            )
            plain = not getattr(layer, "is_decoder", False) and not getattr(layer, "chunk_size_feed_forward", 0)
            return layer if shaped and plain and all(hasattr(parts[0], n) for n in ("query", "key", "value")) else None
    return None


def use_first_token_layer(model: torch.nn.Module) -> bool:
    """Make the last layer compute only the first token, in ``model``'s own forward, where the
    head reads only that; returns whether it does (idempotent)."""
    layer = last_layer(model) if reads_first_token_only(model) else None
    if layer is None:
        return False
    if MARK not in vars(model):
        stock = type(model).forward

        @functools.wraps(stock)  # the signature stays the class's: the Trainer reads its argument names
        def forward(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            lean = last_layer(self) if getattr(self, MARK, False) else None
            wanted = ("output_hidden_states", "output_attentions")
            if lean is None or any(kwargs.get(k) or getattr(self.config, k, False) for k in wanted):
                return stock(self, *args, **kwargs)
            active = _active()
            active.add(id(lean))
            try:
                return stock(self, *args, **kwargs)
            finally:
                active.discard(id(lean))

        # bound methods (not closures over the model): copy.deepcopy rebinds them to the copy
        model.forward = types.MethodType(forward, model)
        layer.forward = types.MethodType(_layer_forward, layer)
    setattr(model, MARK, True)
    return True


def use_full_layer(model: torch.nn.Module) -> None:
    """Undo ``use_first_token_layer``: the last layer computes every token again."""
    if getattr(model, MARK, False):
        setattr(model, MARK, False)


def first_token_active(model: torch.nn.Module) -> bool:
    """Whether ``model``'s forward computes only the first token in its last layer (training
    with gradient checkpointing does not)."""
    layer = last_layer(model)
    return (
        bool(getattr(model, MARK, False)) and layer is not None and not getattr(layer, "gradient_checkpointing", False)
    )


def _active() -> set[int]:
    if not hasattr(_ACTIVE, "layers"):
        _ACTIVE.layers = set()
    return _ACTIVE.layers


def _layer_forward(self: torch.nn.Module, *args: Any, **kwargs: Any) -> torch.Tensor:
    if id(self) in _active() and not getattr(self, "gradient_checkpointing", False):
        return _first_token_forward(self, *args, **kwargs)
    return type(self).forward(self, *args, **kwargs)


def _first_token_forward(
    self: torch.nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *args: Any,
    **kwargs: Any,
) -> torch.Tensor:
    """``BertLayer.forward`` for the first token alone: keys and values of every token, the rest
    of the layer on [batch, 1, width]."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    attention = self.attention.self
    batch, tokens = hidden_states.shape[:2]
    first = hidden_states[:, :1]
    size = attention.attention_head_size
    query = attention.query(first).view(batch, 1, -1, size).transpose(1, 2)
    key = attention.key(hidden_states).view(batch, tokens, -1, size).transpose(1, 2)
    value = attention.value(hidden_states).view(batch, tokens, -1, size).transpose(1, 2)
    mask = attention_mask
    if mask is not None and mask.dim() == 4 and mask.shape[-2] > 1:
        mask = mask[..., :1, :]  # the first query's row: [batch, 1, 1, keys]
    for name in ("encoder_attention_mask", "cache", "past_key_values"):  # not the attention function's
        kwargs.pop(name, None)
    function = ALL_ATTENTION_FUNCTIONS.get_interface(attention.config._attn_implementation, eager_attention_forward)
    context, _ = function(
        attention,
        query,
        key,
        value,
        mask,
        dropout=0.0 if not attention.training else attention.dropout.p,
        scaling=attention.scaling,
        **kwargs,
    )
    context = context.reshape(batch, 1, -1).contiguous()
    return self.feed_forward_chunk(self.attention.output(context, first))
