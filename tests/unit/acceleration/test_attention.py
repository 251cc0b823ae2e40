"""The lean training attention (``headstart.acceleration.attention``) against transformers' eager one."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
from transformers.models.bert.modeling_bert import eager_attention_forward

from headstart.acceleration import attention as lean
from headstart.acceleration.dropout import drop_mask
from headstart.acceleration.hardware import set_attention
from headstart.modeling.backbones import QUIRKS


@pytest.fixture(autouse=True)
def lean_at_every_length(monkeypatch):
    """The tests here use a few tokens: take the lean path at every length (one test restores it)."""
    monkeypatch.setattr(lean, "LEAN_MIN_TOKENS", 0)


class _Layer(torch.nn.Module):
    def __init__(self, training: bool = True) -> None:
        super().__init__()
        self.train(training)


def _qkv(dtype=torch.float64, shape=(2, 3, 7, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=dtype, requires_grad=True) for _ in range(3)]


def _padding(batch=2, tokens=7, kept=(7, 5)):
    mask = torch.zeros(batch, 1, tokens, tokens, dtype=torch.bool)
    for row, n in enumerate(kept):
        mask[row, :, :, :n] = True
    return mask


def test_values_and_gradients_equal_eager_attention_without_dropout():
    q, k, v = _qkv()
    mask = _padding()
    additive = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, torch.finfo(torch.float64).min)
    out, weights = lean.lean_attention_forward(_Layer(), q, k, v, mask, dropout=0.0)
    ref, _ = eager_attention_forward(_Layer(), q, k, v, additive, dropout=0.0)
    assert weights is None
    assert out.shape == ref.shape == (2, 7, 3, 4)  # [batch, tokens, heads, dim], as transformers expects
    assert torch.allclose(out, ref, atol=1e-12)
    grad = torch.randn_like(out)
    for mine, theirs in zip(torch.autograd.grad(out, (q, k, v), grad), torch.autograd.grad(ref, (q, k, v), grad)):
        assert torch.allclose(mine, theirs, atol=1e-12)
    # an additive float mask (what eager_mask builds) gives the same as the boolean one
    again, _ = lean.lean_attention_forward(_Layer(), q, k, v, additive, dropout=0.0)
    assert torch.allclose(again, out, atol=1e-12)


def test_short_inputs_take_eager_attention_bit_for_bit(monkeypatch):
    monkeypatch.setattr(lean, "LEAN_MIN_TOKENS", 256)
    q, k, v = _qkv(torch.float32)
    mask = _padding()
    additive = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    torch.manual_seed(1)
    out, _ = lean.lean_attention_forward(_Layer(), q, k, v, mask, dropout=0.3)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    torch.manual_seed(1)
    ref, _ = eager_attention_forward(_Layer(), q, k, v, additive, dropout=0.3)
    assert torch.equal(out, ref)
    assert all(torch.equal(a, b) for a, b in zip(grads, torch.autograd.grad(ref.sum(), (q, k, v))))

    def saved(tokens):  # the largest tensor kept for backward, in elements
        q, k, v = _qkv(torch.float32, shape=(1, 1, tokens, 4))
        kept = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t.numel()) or t, lambda t: t):
            lean.lean_attention_forward(_Layer(), q, k, v, None, dropout=0.1)
        return max(kept)

    assert saved(255) == 255 * 255 and saved(256) < 256 * 256, "the lean function from 256 tokens on"


def test_without_dropout_long_inputs_take_torch_fused_attention(monkeypatch):
    """Dropout 0 (model.attention_dropout's default): torch's fused kernel; with dropout: the lean function."""
    calls = []
    fused = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", lambda *a, **k: calls.append(k) or fused(*a, **k)
    )
    q, k, v = _qkv(torch.float32)
    mask = _padding()
    out, _ = lean.lean_attention_forward(_Layer(), q, k, v, mask, dropout=0.0)
    assert len(calls) == 1 and calls[0]["dropout_p"] == 0.0
    scaled = q * q.shape[-1] ** -0.5  # the lean function takes q pre-scaled
    ref = lean._LeanAttention.apply(scaled, k, v, lean._as_bias(mask, q.dtype), 0.0, 0).transpose(1, 2)
    assert torch.allclose(out, ref, atol=1e-6)
    lean.lean_attention_forward(_Layer(), q, k, v, mask, dropout=0.1)
    assert len(calls) == 1, "dropout goes to the lean function, which draws its own masks"
    monkeypatch.setattr(lean, "LEAN_MIN_TOKENS", 256)
    lean.lean_attention_forward(_Layer(), q, k, v, mask, dropout=0.0)
    assert len(calls) == 1, "short inputs run eager's operations"


def test_gradients_with_dropout_match_finite_differences():
    q, k, v = _qkv()

    def attend(q, k, v):  # a fixed seed: the same mask in every evaluation, as forward and backward share it
        return lean._LeanAttention.apply(q, k, v, None, 0.3, 1234)

    assert torch.autograd.gradcheck(attend, (q, k, v))


def test_dropout_rate_seed_and_torch_rng():
    drop = drop_mask(torch.Size([1000, 1000]), 0.1, 5, "cpu")
    assert abs(drop.float().mean().item() - 0.1) < 0.002
    assert torch.equal(drop, drop_mask(torch.Size([1000, 1000]), 0.1, 5, "cpu"))
    assert not torch.equal(drop, drop_mask(torch.Size([1000, 1000]), 0.1, 6, "cpu"))
    assert not drop_mask(torch.Size([100]), 0.0, 5, "cpu").any()

    q, k, v = _qkv()
    torch.manual_seed(3)
    first, _ = lean.lean_attention_forward(_Layer(), q, k, v, None, dropout=0.5)
    second, _ = lean.lean_attention_forward(_Layer(), q, k, v, None, dropout=0.5)
    torch.manual_seed(3)
    replay, _ = lean.lean_attention_forward(_Layer(), q, k, v, None, dropout=0.5)
    assert torch.equal(first, replay), "torch.manual_seed decides the dropout mask"
    assert not torch.equal(first, second), "each call draws a new mask"
    # the expectation is kept: the mean over many masks approaches the undropped output
    plain, _ = lean.lean_attention_forward(_Layer(), q, k, v, None, dropout=0.0)
    mean = torch.stack([lean.lean_attention_forward(_Layer(), q, k, v, None, dropout=0.5)[0] for _ in range(400)])
    assert torch.allclose(mean.mean(0), plain, atol=0.15)


def test_bf16_autocast_stays_close_to_eager():
    q, k, v = _qkv(torch.float32, shape=(2, 4, 64, 16))
    mask = _padding(tokens=64, kept=(64, 40))
    additive = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    grad = torch.randn(2, 64, 4, 16)
    results = []
    for attend, m in ((lean.lean_attention_forward, mask), (eager_attention_forward, additive)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            qb, kb, vb = (t.to(torch.bfloat16) for t in (q, k, v))  # what bf16 linear layers hand over
            out, _ = attend(_Layer(), qb, kb, vb, m, dropout=0.0)
        results.append((out.float(), torch.autograd.grad(out, (q, k, v), grad.to(out.dtype))))
    (out, grads), (ref, ref_grads) = results
    assert out.dtype == ref.dtype
    assert (out - ref).abs().max() < 0.05
    for mine, theirs in zip(grads, ref_grads):
        assert (mine - theirs).abs().max() < 0.05 * theirs.abs().max()


def test_no_tokens_by_tokens_tensor_is_kept_for_backward():
    """Why it exists: eager keeps the probabilities and the dropout mask of every layer."""
    tokens = 64

    def saved_bytes(attend):
        q, k, v = _qkv(torch.float32, shape=(2, 2, tokens, 8))
        kept = []

        def pack(t):
            kept.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            attend(_Layer(), q, k, v, None, dropout=0.1)
        return max(kept)

    square = 2 * 2 * tokens * tokens * 4
    assert saved_bytes(eager_attention_forward) >= square
    assert saved_bytes(lean.lean_attention_forward) < square / 4
    assert saved_bytes(lambda *a, **k: lean.lean_attention_forward(*a, **{**k, "dropout": 0.0})) < square / 4


def test_whole_models_match_eager_in_evaluation(tiny_model_dir, tiny_llama_dir):
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]])
    mask = (ids != 0).long()
    for cls, path in ((AutoModelForSequenceClassification, tiny_model_dir), (AutoModelForCausalLM, tiny_llama_dir)):
        model = cls.from_pretrained(path, attn_implementation="eager").eval()
        with torch.no_grad():
            ref = model(input_ids=ids, attention_mask=mask).logits
            assert set_attention(model, lean.NAME) == lean.NAME
            out = model(input_ids=ids, attention_mask=mask).logits
        rows = mask.bool()  # padded positions of a causal model are not compared
        assert torch.allclose(out[rows] if out.dim() == 3 else out, ref[rows] if ref.dim() == 3 else ref, atol=1e-5)


def test_whole_model_gradients_match_eager_and_it_learns(tiny_model_dir):
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]])
    batch = {"input_ids": ids, "attention_mask": (ids != 0).long(), "labels": torch.tensor([0, 1])}
    grads = {}
    for kernel in ("eager", lean.NAME):
        model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
        torch.manual_seed(0)
        model.classifier.reset_parameters()
        set_attention(model, kernel)
        model.train()
        for module in model.modules():  # no dropout: the two must then agree exactly
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        model(**batch).loss.backward()
        grads[kernel] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert grads["eager"].keys() == grads[lean.NAME].keys()
    for name, grad in grads["eager"].items():
        assert torch.allclose(grads[lean.NAME][name], grad, atol=1e-6), name

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=2, attention_probs_dropout_prob=0.3
    )
    set_attention(model, lean.NAME)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert sum(losses[-5:]) < 0.2 * sum(losses[:5]), "two examples are learnt by heart with attention dropout on"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_grouped_query_heads_are_shared(dtype):
    q, _, _ = _qkv(dtype, shape=(1, 4, 6, 8))
    _, k, v = _qkv(dtype, shape=(1, 2, 6, 8), seed=1)
    out, _ = lean.lean_attention_forward(_Layer(False), q, k, v, None)
    ref, _ = lean.lean_attention_forward(_Layer(False), q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), None)
    assert torch.equal(out, ref)


def test_the_quirks_table_says_where_it_applies(tiny_model_dir, tiny_t5_dir):
    from transformers import AutoModel, T5EncoderModel

    from headstart.modeling.backbones import supports_lean_attention
    from headstart.modeling.classifier import HeadstartClassifier

    assert supports_lean_attention(AutoModel.from_pretrained(tiny_model_dir))
    assert supports_lean_attention(HeadstartClassifier.from_encoder(str(tiny_model_dir)))  # its backbone decides
    assert not supports_lean_attention(T5EncoderModel.from_pretrained(tiny_t5_dir))  # relative position bias


def test_t5_trains_with_sdpa_and_refuses_it_by_name(tiny_t5_dir, tmp_path):
    import json

    from headstart import train
    from headstart.errors import ConfigError
    from tests_support import SENTIMENT, tiny_run_config

    cfg = tiny_run_config(tiny_t5_dir, tmp_path / "t5", num_train_epochs=1)
    result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
    assert json.loads((result.output_dir / "headstart.json").read_text())["attn_implementation"] == "sdpa"
    cfg = tiny_run_config(tiny_t5_dir, tmp_path / "t5-lean", num_train_epochs=1)
    cfg["speed"]["attn_implementation"] = "headstart"
    with pytest.raises(ConfigError, match="headstart only for a model type marked lean_attention.*found model type t5"):
        train(cfg, train=SENTIMENT, validation=SENTIMENT)
    assert not (tmp_path / "t5-lean").exists()


def _tiny(model_type):
    """A 2-layer model of each type the quirks table marks lean_attention, from a config."""
    import transformers as tf

    small = dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    encoder = dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    configs = {
        "bert": (tf.BertForSequenceClassification, tf.BertConfig(**encoder)),
        "roberta": (tf.RobertaForSequenceClassification, tf.RobertaConfig(**encoder)),
        "xlm-roberta": (tf.XLMRobertaForSequenceClassification, tf.XLMRobertaConfig(**encoder)),
        "distilbert": (
            tf.DistilBertForSequenceClassification,
            tf.DistilBertConfig(vocab_size=50, dim=32, n_layers=2, n_heads=2, hidden_dim=64),
        ),
        "electra": (tf.ElectraForSequenceClassification, tf.ElectraConfig(embedding_size=32, **encoder)),
        "albert": (tf.AlbertForSequenceClassification, tf.AlbertConfig(embedding_size=16, **encoder)),
        "gpt2": (
            tf.GPT2LMHeadModel,
            tf.GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=2, scale_attn_by_inverse_layer_idx=True),
        ),
        "gpt_neox": (tf.GPTNeoXForCausalLM, tf.GPTNeoXConfig(**small)),
        "llama": (tf.LlamaForCausalLM, tf.LlamaConfig(num_key_value_heads=2, **small)),
        "mistral": (tf.MistralForCausalLM, tf.MistralConfig(num_key_value_heads=2, sliding_window=3, **small)),
        "qwen2": (tf.Qwen2ForCausalLM, tf.Qwen2Config(num_key_value_heads=2, **small)),
        "qwen3": (tf.Qwen3ForCausalLM, tf.Qwen3Config(num_key_value_heads=2, head_dim=8, **small)),
        "phi": (tf.PhiForCausalLM, tf.PhiConfig(**small)),
        "phi3": (tf.Phi3ForCausalLM, tf.Phi3Config(pad_token_id=0, **small)),
        "gemma": (tf.GemmaForCausalLM, tf.GemmaConfig(num_key_value_heads=2, head_dim=8, **small)),
    }
    return configs.get(model_type)


LEAN_TYPES = sorted(t for t, q in QUIRKS.items() if q.lean_attention)


@pytest.mark.parametrize("model_type", LEAN_TYPES)
def test_every_type_marked_lean_computes_what_eager_does(model_type):
    entry = _tiny(model_type)
    assert entry is not None, f"{model_type} is marked lean_attention: add it here so it is checked"
    cls, config = entry
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = cls(config).eval()
    ids = torch.tensor([[5, 10, 11, 12, 6, 7, 8, 9], [5, 13, 6, 9, 9, 1, 1, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).logits
        assert set_attention(model, lean.NAME) == lean.NAME
        out = model(input_ids=ids, attention_mask=mask).logits
    if out.dim() == 3:  # per-token outputs: padded positions are not compared
        out, ref = out[mask.bool()], ref[mask.bool()]
    assert torch.allclose(out, ref, atol=1e-5)
