"""The one table of architecture quirks, and the small functions that apply it.

Every difference between model families that headstart has to know about is a row of
``QUIRKS`` with the reason it exists; nothing else in the package branches on a model type.
A model type missing from the table is classified by its config (``is_encoder_decoder``, a
``...ForCausalLM`` architecture), so a new hub model of a known kind works without a new row.

>>> from transformers import GPT2Config, BertConfig
>>> quirks_for(GPT2Config()).family, quirks_for(GPT2Config()).pooling
('decoder', 'last')
>>> quirks_for(BertConfig()).pooling
'cls'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

ENCODER, DECODER, ENCODER_DECODER = "encoder", "decoder", "encoder-decoder"


@dataclass(frozen=True)
class Quirks:
    family: str  # encoder, decoder or encoder-decoder
    pooling: str  # the sentence vector a pooling head takes by default: cls, mean, max or last
    encoder_only_class: str | None  # for encoder-decoders: the class that runs only the encoder
    stock_head: bool  # transformers' own ...ForSequenceClassification is the default head
    reason: str
    # transformers' decoder heads (GPT-2's and the generic one of Llama, Mistral, Qwen, ...)
    # have an output layer without bias: a regression target's mean cannot be folded into it
    head_bias: bool = True
    # the model's attention hands the attention function only (q, k, v, mask, scaling, dropout),
    # so headstart's lean training attention (acceleration/attention.py) computes what eager does:
    # checked against eager per type (tests/unit/modeling/test_attention.py). Not T5 (its learned
    # relative position bias goes in as an extra argument) nor models whose attention code
    # transformers cannot switch (MPNet, DeBERTa, GPT-Neo, GPT-J); unknown types: not assumed.
    lean_attention: bool = False
    # the layers are shaped like transformers' BertLayer (attention.self.query/key/value,
    # attention.output, intermediate, output) and the stock classification head reads the first
    # token alone, so the last layer can compute only that token (acceleration/first_token.py)
    first_token_layer: bool = False
    # the config key giving how many learned absolute position embeddings the model has (None:
    # relative or rotary positions, bounded by memory only), and whether the positions are numbered
    # from pad_token_id + 1 (RoBERTa, XLM-R, MPNet: 514 embeddings hold 512 tokens)
    positions: str | None = None
    positions_after_pad: bool = False
    # the modules LoRA adapts by default (--lora), where peft's own table has no entry for the type:
    # the attention's query and value projections, as peft and the LoRA paper take them
    lora_targets: tuple[str, ...] | None = None
    # the side batches are padded on for generate(): a decoder writes after its last token, so its
    # inputs are left-padded (generate numbers the positions from the attention mask, so the real
    # tokens keep theirs); an encoder-decoder's encoder reads right-padded inputs as everywhere else
    generation_padding: str = "right"


# Decoders: no pad token in their tokenizers (GPT-2, Llama, SmolLM2), and transformers'
# ...ForSequenceClassification takes the logits of the last token that is not the pad token,
# refusing batches > 1 without one ("Cannot handle batch sizes > 1 if no padding token is
# defined"); only the last token has attended to the whole text (causal attention), so that is
# what a pooling head takes too. Padding stays on the right: their forward numbers positions
# 0..T-1 whatever the attention mask says, so left padding would shift the positions of the real
# tokens and a text would score differently alone than in a batch.
_DECODER = Quirks(
    DECODER,
    "last",
    None,
    True,
    "causal attention; no pad token; positions ignore the mask",
    head_bias=False,
    generation_padding="left",
)
# BERT-style encoders: the first token ([CLS], <s>) is trained as the sentence summary.
_ENCODER = Quirks(
    ENCODER, "cls", None, True, "bidirectional; [CLS] summarises the input", positions="max_position_embeddings"
)
# T5: no [CLS] token and no pooler were ever trained, so its encoder is pooled by the mean.
# T5ForSequenceClassification runs the decoder as well (the cost of a second model) and takes
# the end-of-sequence token's state, so classification uses T5EncoderModel + a pooling head;
# text-to-text classification (labels generated as words) is a task of its own.
_T5 = Quirks(ENCODER_DECODER, "mean", "T5EncoderModel", False, "no [CLS]; the encoder alone is pooled by the mean")

QUIRKS: dict[str, Quirks] = {
    **dict.fromkeys(("bert", "electra"), replace(_ENCODER, lean_attention=True, first_token_layer=True)),
    **dict.fromkeys(
        ("roberta", "xlm-roberta"),
        replace(_ENCODER, lean_attention=True, first_token_layer=True, positions_after_pad=True),
    ),
    # DistilBERT's and ALBERT's layers are shaped differently (TransformerBlock; shared AlbertLayer groups)
    "distilbert": replace(_ENCODER, lean_attention=True, lora_targets=("q_lin", "v_lin")),
    "albert": replace(_ENCODER, lean_attention=True),
    # MPNet (the bundled mpnet) adds a learned relative position bias to the attention scores inside
    # its own attention module, which has no attn_implementation switch: it always runs its eager
    # attention, so neither the lean attention nor the first-token last layer (its layers are
    # attention.attn.q/k/v, not BertLayer's) applies. Its positions start after the pad id (514
    # embeddings hold 512 tokens) and a pair is joined by </s></s>: both the tokenizer's own doing.
    "mpnet": replace(
        _ENCODER,
        reason="bidirectional; <s> summarises; relative position bias, eager attention only",
        positions_after_pad=True,
        lora_targets=("q", "v"),
    ),
    # DeBERTa's disentangled attention likewise has no switchable attention function, and its
    # positions are relative.
    **dict.fromkeys(("deberta", "deberta-v2"), replace(_ENCODER, positions=None)),
    **dict.fromkeys(
        ("gpt_neox", "llama", "mistral", "qwen2", "qwen3", "phi", "phi3", "gemma"),
        replace(_DECODER, lean_attention=True),
    ),
    # GPT-2 and GPT-Neo learn absolute positions; the others above are rotary
    "gpt2": replace(_DECODER, lean_attention=True, positions="n_positions"),
    "gpt_neo": replace(_DECODER, positions="max_position_embeddings"),
    "gptj": _DECODER,
    **dict.fromkeys(("t5", "mt5", "umt5"), _T5),
}


def quirks_for(config: Any) -> Quirks:
    """The table row for a model config; unknown types are classified by the config itself."""
    row = QUIRKS.get(getattr(config, "model_type", ""))
    if row is not None:
        return row
    if getattr(config, "is_encoder_decoder", False):
        return Quirks(ENCODER_DECODER, "mean", None, True, "an encoder-decoder not in the table")
    if any(a.endswith("ForCausalLM") for a in getattr(config, "architectures", None) or []):
        return _DECODER
    return _ENCODER


def max_tokens(config: Any) -> int | None:
    """How many tokens the backbone's learned absolute position embeddings hold; None where its
    positions are relative or rotary (T5, Llama, ...) and only memory bounds the length.

    >>> from transformers import BertConfig, GPT2Config, LlamaConfig, RobertaConfig
    >>> max_tokens(BertConfig()), max_tokens(RobertaConfig(max_position_embeddings=514, pad_token_id=1))
    (512, 512)
    >>> max_tokens(GPT2Config()), max_tokens(LlamaConfig())
    (1024, None)
    """
    row = quirks_for(config)
    size = getattr(config, row.positions, None) if row.positions else None
    if not isinstance(size, int) or getattr(config, "position_embedding_type", "absolute") != "absolute":
        return None
    return size - (int(config.pad_token_id or 0) + 1 if row.positions_after_pad else 0)


def backbone_configs(model: Any) -> list[Any]:
    """The configs of the transformers models inside ``model`` (the backbone of headstart's own
    heads too), without headstart's own wrappers."""
    from transformers import PreTrainedModel

    return [
        m.config
        for m in model.modules()
        if isinstance(m, PreTrainedModel) and not str(m.config.model_type).startswith("headstart")
    ]


def supports_lean_attention(model: Any) -> bool:
    """Whether every transformers model inside ``model`` is of a type the table marks ``lean_attention``."""
    configs = backbone_configs(model)
    return bool(configs) and all(quirks_for(c).lean_attention for c in configs)


# The names transformers' configs give the dropout on attention probabilities: BERT, RoBERTa,
# ELECTRA, ALBERT, MPNet, DeBERTa; DistilBERT, GPT-NeoX, GPT-Neo, Llama, Mistral, Qwen, Phi, Gemma;
# GPT-2, GPT-J. T5 has none of its own (one dropout_rate for everything) and keeps its rate.
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop")


def attention_dropout_setting(config: Any, rate: float | str | None) -> dict[str, float]:
    """The ``from_pretrained`` keyword that sets ``config``'s attention dropout to ``rate`` (none
    when ``rate`` is None, keeping the backbone's own, or when the config has no such setting).
    ``auto`` is 0 where the table marks ``lean_attention`` (training runs fused kernels that take no
    dropout there) and the backbone's own rate elsewhere (its eager attention gains nothing from 0).

    >>> from transformers import BertConfig, GPT2Config, MPNetConfig, T5Config
    >>> attention_dropout_setting(BertConfig(), 0.0), attention_dropout_setting(GPT2Config(), 0.0)
    ({'attention_probs_dropout_prob': 0.0}, {'attn_pdrop': 0.0})
    >>> attention_dropout_setting(T5Config(), 0.0), attention_dropout_setting(BertConfig(), None)
    ({}, {})
    >>> attention_dropout_setting(BertConfig(), "auto"), attention_dropout_setting(MPNetConfig(), "auto")
    ({'attention_probs_dropout_prob': 0.0}, {})
    """
    if rate == "auto":
        rate = 0.0 if quirks_for(config).lean_attention else None
    if rate is None:
        return {}
    for key in ATTENTION_DROPOUT_KEYS:
        if key in config.to_dict():
            return {key: float(rate)}
    return {}


def is_byte_level(tokenizer: Any) -> bool:
    """Whether the tokenizer is a byte-level BPE (GPT-2, RoBERTa, SmolLM2) that marks a word's
    leading space in its tokens: pre-split words then need ``add_prefix_space=True`` or each word
    would be tokenized as if it were glued to the previous one ("greatmovie")."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    return "ByteLevel" in repr(backend.pre_tokenizer)


def load_tokenizer(path: str, *, words: bool = False) -> Any:
    """The backbone's tokenizer, prepared for classification: a pad token, right padding and, for
    pre-split words (NER) on a byte-level BPE, a prefix space before every word."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if words and is_byte_level(tokenizer):
        _add_prefix_space(tokenizer)
    if tokenizer.pad_token is None:
        # Decoders ship without one; eos is never inside a text (it is not added by the
        # tokenizer), so the model can tell padding from text by id. unk is the fallback.
        fill = tokenizer.eos_token or tokenizer.unk_token
        if fill is None:
            from headstart.errors import ModelLoadError

            raise ModelLoadError(
                "a tokenizer with a pad, end-of-sequence or unknown token to pad batches with",
                found=f"{type(tokenizer).__name__} with none of them",
                fix="add a pad token to the tokenizer (tokenizer.add_special_tokens) and save it again",
                file=path,
            )
        tokenizer.pad_token = fill
    tokenizer.padding_side = "right"
    _separate_pairs(tokenizer)
    return tokenizer


def _separate_pairs(tokenizer: Any) -> None:
    """Decoder tokenizers (GPT-2, SmolLM2) join a text pair with nothing between the two texts, so
    "a cat" + "sat down" reads as one text "a catsat down". Put the end-of-sequence token between
    them, as a separator the model can learn; saved in tokenizer.json, so pipeline() does the same."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    sep = tokenizer.eos_token or tokenizer.pad_token
    if backend is None or sep is None:
        return
    one, two = tokenizer("a").input_ids, tokenizer("b").input_ids
    marks_texts = bool(set(one) & set(tokenizer.all_special_ids))  # e.g. [CLS] a [SEP]
    if marks_texts or tokenizer("a", "b").input_ids != one + two:
        return  # the tokenizer marks texts or pairs itself
    from tokenizers import processors

    template = processors.TemplateProcessing(
        single="$A:0", pair=f"$A:0 {sep}:0 $B:1", special_tokens=[(sep, tokenizer.convert_tokens_to_ids(sep))]
    )
    current = backend.post_processor
    backend.post_processor = template if current is None else processors.Sequence([current, template])


def _add_prefix_space(tokenizer: Any) -> None:
    """Turn on the ByteLevel pre-tokenizer's prefix space in the backend itself: the
    ``add_prefix_space=True`` argument reaches only some tokenizer classes (GPT-2's, not the
    generic one SmolLM2 loads as). Saved in tokenizer.json, so pipeline() reloads it the same."""
    import json

    from tokenizers import Tokenizer

    state = json.loads(tokenizer.backend_tokenizer.to_str())

    def switch(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel" and "add_prefix_space" in node:
                node["add_prefix_space"] = True
            for value in node.values():
                switch(value)
        elif isinstance(node, list):
            for value in node:
                switch(value)

    switch(state.get("pre_tokenizer"))
    tokenizer._tokenizer = Tokenizer.from_str(json.dumps(state))
    tokenizer.add_prefix_space = True


def align_model(model: Any, tokenizer: Any) -> Any:
    """Give the model the tokenizer's pad id: transformers' decoder heads find a text's last real
    token by it, and it is saved in config.json so that ``pipeline()`` batches the same way."""
    configs = [model.config]
    if hasattr(model.config, "get_text_config") and model.config.get_text_config() is not model.config:
        configs.append(model.config.get_text_config())
    generation = getattr(model, "generation_config", None)  # a model that writes pads its batches with it too
    for config in [*configs, *([generation] if generation is not None else [])]:
        if getattr(config, "pad_token_id", None) is None:
            config.pad_token_id = tokenizer.pad_token_id
    return model


def encoder_class(config: Any) -> Any:
    """The transformers class that runs the backbone without a head (only the encoder of a T5)."""
    import transformers

    name = quirks_for(config).encoder_only_class
    return getattr(transformers, name) if name else transformers.AutoModel


def encoder_from_pretrained(path: str, attention_dropout: float | None = None) -> Any:
    """The pretrained backbone at ``path`` without a head; ``attention_dropout`` replaces its
    attention dropout rate when given (``attention_dropout_setting``)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    return encoder_class(config).from_pretrained(path, **attention_dropout_setting(config, attention_dropout))


def encoder_from_config(config: Any) -> Any:
    cls = encoder_class(config)
    if hasattr(cls, "from_config"):
        return cls.from_config(config)
    return cls(config)
