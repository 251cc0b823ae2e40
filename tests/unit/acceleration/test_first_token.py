"""The last layer computing only the first token (``headstart.acceleration.first_token``) gives the
stock model's logits and gradients, applies exactly where the head reads [CLS] alone, and is
never saved with the model."""

import pytest
import torch
import transformers as tf

from headstart.acceleration import attention as lean
from headstart.acceleration.first_token import first_token_active, last_layer, use_first_token_layer, use_full_layer
from headstart.acceleration.hardware import set_attention
from headstart.modeling.backbones import QUIRKS
from headstart.modeling.classifier import HeadstartClassifier

ENCODER = dict(vocab_size=60, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)


def _classifier(model_type, num_labels=3, **settings):
    configs = {
        "bert": (tf.BertForSequenceClassification, tf.BertConfig),
        "roberta": (tf.RobertaForSequenceClassification, tf.RobertaConfig),
        "xlm-roberta": (tf.XLMRobertaForSequenceClassification, tf.XLMRobertaConfig),
        "electra": (tf.ElectraForSequenceClassification, tf.ElectraConfig),
    }
    cls, config_class = configs[model_type]
    config = config_class(**ENCODER, num_labels=num_labels, **settings)
    torch.manual_seed(0)
    return cls(config)


def _batch(tokens=9):
    torch.manual_seed(1)
    ids = torch.randint(5, 60, (3, tokens))
    mask = torch.ones_like(ids)
    mask[1, tokens - 3 :] = 0  # padding on the right, as the tokenizer makes it
    mask[2, 4:] = 0
    return ids, mask


@pytest.mark.parametrize("model_type", sorted(t for t, q in QUIRKS.items() if q.first_token_layer))
@pytest.mark.parametrize("attention", ["eager", "sdpa", "headstart"])
def test_logits_equal_the_stock_model(model_type, attention):
    model = _classifier(model_type).eval()
    set_attention(model, attention)
    ids, mask = _batch()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).logits
        assert use_first_token_layer(model)
        with _last_output_shapes(model) as shapes:
            out = model(input_ids=ids, attention_mask=mask).logits
            # asking for hidden states gets them whole: that call computes every token
            states = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            model.base_model(input_ids=ids, attention_mask=mask)  # the backbone alone: every token
    assert torch.allclose(out, ref, atol=1e-6), (out - ref).abs().max()
    assert shapes == [(3, 1, 32), (3, 9, 32), (3, 9, 32)]  # the first call's last layer computed one token
    assert states.hidden_states[-1].shape == (3, 9, 32) and torch.allclose(states.logits, ref, atol=1e-6)
    use_full_layer(model)
    assert not first_token_active(model)
    with torch.no_grad(), _last_output_shapes(model) as shapes:
        again = model(input_ids=ids, attention_mask=mask).logits
    assert shapes == [(3, 9, 32)] and torch.equal(again, ref)


class _last_output_shapes:
    """The output shapes of the last layer's calls, recorded while the block runs."""

    def __init__(self, model):
        self.layer, self.shapes = last_layer(model), []

    def __enter__(self):
        self.hook = self.layer.register_forward_hook(lambda m, i, o: self.shapes.append(tuple(o.shape)))
        return self.shapes

    def __exit__(self, *exc):
        self.hook.remove()


def test_sentence_pairs_and_long_inputs_through_the_fused_and_lean_attention(monkeypatch):
    # token type ids, and 300 tokens: the headstart attention's fused path (dropout 0) and its
    # lean function (dropout > 0, compared in evaluation where dropout is off)
    model = _classifier("bert", max_position_embeddings=512).eval()
    set_attention(model, lean.NAME)
    ids, mask = _batch(300)
    types = torch.zeros_like(ids)
    types[:, 150:] = 1
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        use_first_token_layer(model)
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    assert torch.allclose(out, ref, atol=1e-5)
    model.train()
    model.config.attention_probs_dropout_prob = 0.1
    for layer in model.bert.encoder.layer:
        layer.attention.self.dropout.p = 0.1
    loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=torch.tensor([0, 1, 2])).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert model.bert.encoder.layer[-1].attention.self.key.weight.grad.abs().sum() > 0


def test_gradients_equal_the_stock_model():
    model = _classifier("bert", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).train()
    ids, mask = _batch()
    labels = torch.tensor([0, 2, 1])

    def grads():
        model.zero_grad()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    ref = grads()
    use_first_token_layer(model)
    out = grads()
    last = model.bert.encoder.layer[-1]
    # the last layer's query and feed-forward still learn, from the first token's row
    assert last.intermediate.dense.weight.grad.abs().sum() > 0
    assert set(out) == set(ref)
    for name in ref:
        assert torch.allclose(out[name], ref[name], atol=1e-6), name


def test_only_where_the_head_reads_the_first_token_alone(tiny_model_dir, tiny_llama_dir):
    bert = dict(ENCODER)
    assert use_first_token_layer(tf.BertForSequenceClassification(tf.BertConfig(**bert)))
    assert not use_first_token_layer(tf.BertForTokenClassification(tf.BertConfig(**bert)))  # every token
    assert not use_first_token_layer(tf.BertModel(tf.BertConfig(**bert)))  # embeddings read every token
    distil = tf.DistilBertConfig(vocab_size=60, dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    assert not use_first_token_layer(tf.DistilBertForSequenceClassification(distil))  # not BertLayer-shaped
    llama = tf.LlamaForSequenceClassification.from_pretrained(tiny_llama_dir, num_labels=2)
    assert not use_first_token_layer(llama)  # a decoder's head reads the last real token
    for pooling, applies in (("cls", True), ("mean", False), ("max", False)):
        model = HeadstartClassifier.from_encoder(str(tiny_model_dir), pooling=pooling, num_labels=2)
        assert use_first_token_layer(model) is applies, pooling
    model = HeadstartClassifier.from_encoder(str(tiny_model_dir), pooling="cls", num_labels=2).eval()
    ids, mask = _batch()
    ids = ids.clamp(max=model.encoder.config.vocab_size - 1)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).logits
        use_full_layer(model)
        ref = model(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(out, ref, atol=1e-6)


def test_nothing_of_it_is_saved(tmp_path):
    model = _classifier("bert").eval()
    keys = set(model.state_dict())
    use_first_token_layer(model)
    use_first_token_layer(model)  # idempotent
    assert first_token_active(model) and set(model.state_dict()) == keys
    model.save_pretrained(tmp_path)
    loaded = tf.AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert not first_token_active(loaded)
    ids, mask = _batch()
    with torch.no_grad():
        out = loaded(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        ref = model(input_ids=ids, attention_mask=mask).logits
    assert out.hidden_states[-1].shape[1] == 9  # plain transformers computes every token
    assert torch.allclose(out.logits, ref, atol=1e-6)


def test_training_and_prediction_use_it_unless_turned_off(tiny_model_dir, tmp_path, caplog):
    from headstart import Predictor, train
    from tests_support import SENTIMENT, tiny_run_config

    runs = {}
    for setting in (True, False):
        cfg = tiny_run_config(tiny_model_dir, tmp_path / str(setting), num_train_epochs=2)
        cfg["speed"]["last_layer_first_token"] = setting
        caplog.clear()
        with caplog.at_level("INFO", logger="headstart.acceleration"):
            runs[setting] = train(cfg, train=SENTIMENT, validation=SENTIMENT)
        assert ("last layer: the first token only" in caplog.text) is setting
    predictor = Predictor.load(runs[False].output_dir)
    assert first_token_active(predictor.model)  # prediction always: the logits are the same
    texts = [row["text"] for row in SENTIMENT]
    fast = predictor.logits(texts)
    use_full_layer(predictor.model)
    assert abs(fast - predictor.logits(texts)).max() < 1e-5


def test_the_flop_count_leaves_out_what_it_skips():
    from torch.utils.flop_counter import FlopCounterMode

    from headstart.acceleration.flops import model_flops

    model = _classifier("bert").eval()
    set_attention(model, "eager")
    ids = torch.randint(5, 60, (2, 12))  # no padding: the count covers real tokens only

    def measured():
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(input_ids=ids)
        return counter.get_total_flops()

    full, full_count = measured(), model_flops(model, [12, 12], train=False)
    use_first_token_layer(model)
    first, first_count = measured(), model_flops(model, [12, 12], train=False)
    assert first < full
    assert full_count - first_count == full - first  # the formula's skipped work is what stopped running
    assert model_flops(model, [12, 12], train=True) == 3 * first_count


def test_signature_copies_checkpointing_and_embeddings_keep_working(tiny_model_dir):
    import copy
    import inspect

    from headstart.inference.embeddings import Embedder

    model = _classifier("bert", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    stock = set(inspect.signature(model.forward).parameters)
    use_first_token_layer(model)
    assert set(inspect.signature(model.forward).parameters) == stock  # the Trainer keeps its columns
    ids, mask = _batch()
    labels = torch.tensor([0, 2, 1])
    # a copy runs its own weights, lean too
    twin = copy.deepcopy(model).eval()
    with torch.no_grad():
        twin.classifier.weight.zero_()
        twin.classifier.bias.fill_(1.0)
        with _last_output_shapes(twin) as shapes:
            assert torch.equal(twin(input_ids=ids, attention_mask=mask).logits, torch.ones(3, 3))
    assert shapes == [(3, 1, 32)] and first_token_active(twin)
    # gradient checkpointing reruns the layer in backward: there every token is computed
    model.train()
    model.zero_grad()
    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.activation_checkpointing_enable()
    assert not first_token_active(model)
    model.zero_grad()
    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, ref[name], atol=1e-6), name
    # the server's embeddings run the classifier's backbone: every token
    model.activation_checkpointing_disable()
    model.eval()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    vectors = Embedder.from_model(model, tokenizer).hidden_states(["a good film", "bad"])
    assert [len(v.vectors) for v in vectors] == [5, 3]  # [CLS] a good film [SEP] / [CLS] bad [SEP]
