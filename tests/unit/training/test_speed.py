"""Speed settings: precision and attention choice, token-budget batches, throughput and FLOPs."""

import json

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from headstart import Predictor, RunConfig, train
from headstart.acceleration.flops import flops_from_counts, linear_weights, matmul_peak, model_flops
from headstart.acceleration.hardware import ATTENTION, attention_implementation, choose_bf16, set_attention
from headstart.cli import main as cli_main
from headstart.errors import ConfigError
from headstart.training.sampler import TokenBudgetBatchSampler
from headstart.training.trainer import Throughput
from tests_support import SENTIMENT, tiny_run_config


def test_requested_precision_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("HEADSTART_BF16", "1")
    assert choose_bf16(False, "cpu") is False
    assert choose_bf16(None, "cpu") is True
    monkeypatch.setenv("HEADSTART_BF16", "0")
    assert choose_bf16(True, "cpu") is True
    assert choose_bf16(None, "cpu") is False


def test_auto_precision_follows_the_hardware(monkeypatch):
    monkeypatch.setenv("HEADSTART_BF16", "auto")
    monkeypatch.setattr("headstart.acceleration.hardware.cpu_bf16_native", lambda: True)
    assert choose_bf16(None, "cpu") is True
    monkeypatch.setattr("headstart.acceleration.hardware.cpu_bf16_native", lambda: False)
    assert choose_bf16(None, "cpu") is False


def test_forcing_bf16_where_it_is_emulated_warns(monkeypatch, caplog):
    monkeypatch.delenv("HEADSTART_BF16", raising=False)
    monkeypatch.setattr("headstart.acceleration.hardware.cpu_bf16_native", lambda: False)
    with caplog.at_level("WARNING", logger="headstart.acceleration.hardware"):
        assert choose_bf16(True, "cpu") is True
    assert "bf16 forced by the bf16 setting" in caplog.text and "no native bf16" in caplog.text
    caplog.clear()
    monkeypatch.setenv("HEADSTART_BF16", "1")
    with caplog.at_level("WARNING", logger="headstart.acceleration.hardware"):
        assert choose_bf16(None, "cpu") is True
    assert "$HEADSTART_BF16=1" in caplog.text
    caplog.clear()
    monkeypatch.setattr("headstart.acceleration.hardware.cpu_bf16_native", lambda: True)
    with caplog.at_level("WARNING", logger="headstart.acceleration.hardware"):
        assert choose_bf16(True, "cpu") is True
        assert choose_bf16(False, "cpu") is False
    assert caplog.text == ""


def test_a_bad_environment_value_is_a_config_error(monkeypatch):
    monkeypatch.setenv("HEADSTART_BF16", "maybe")
    with pytest.raises(ConfigError, match="HEADSTART_BF16 of 1, 0 or auto.*maybe"):
        choose_bf16(None, "cpu")


def test_batches_pad_to_a_multiple_of_8_with_labels_aligned(tiny_model_dir):
    from transformers import AutoTokenizer

    from headstart.tasks.text_classification import TextClassification
    from headstart.tasks.token_classification.task import TokenCollator

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [tokenizer("great movie loved it"), tokenizer("awful")]
    lengths = [len(r["input_ids"]) for r in rows]  # 6 and 3: the batch would be 6 wide
    plain = DataCollatorWithPadding(tokenizer)([dict(r) for r in rows])
    rounded = TextClassification().collator(tokenizer, 8)([dict(r) for r in rows])
    assert plain["input_ids"].shape == (2, max(lengths)) and rounded["input_ids"].shape == (2, 8)
    assert rounded["attention_mask"].sum(dim=1).tolist() == lengths  # the extra columns are padding
    tagged = [{**dict(r), "labels": list(range(n)), "word_mask": [1] * n} for r, n in zip(rows, lengths)]
    batch = TokenCollator(tokenizer, 8)(tagged)
    assert batch["labels"].shape == (2, 8) and batch["labels"][1].tolist() == [0, 1, 2] + [-100] * 5
    assert batch["word_mask"][0].tolist() == [1] * 6 + [0, 0]


def test_padding_multiple_is_off_where_max_length_is_not_a_multiple():
    from headstart.training.run import _pad_multiple

    cfg = RunConfig()
    cfg.model.max_length, cfg.speed.pad_to_multiple_of = 256, 8  # train() fills max_length in from the task
    assert _pad_multiple(cfg) == 8
    cfg.model.max_length = 100  # 104 could reach past a 100-position model
    assert _pad_multiple(cfg) is None
    assert _pad_multiple(cfg, "cpu", True) is None  # the automatic 8 too
    cfg.model.max_length, cfg.speed.pad_to_multiple_of = 128, 1
    assert _pad_multiple(cfg, "cpu", True) is None  # 1: to the longest input, whatever the precision


def test_padding_multiple_follows_the_precision_unless_set():
    from headstart.training.run import _pad_multiple

    cfg = RunConfig()
    cfg.model.max_length = 256  # train() fills it in from the task
    assert cfg.speed.pad_to_multiple_of is None  # auto
    assert _pad_multiple(cfg, "cpu", True) == 8  # bf16: oneDNN's primitive cache (AMX Xeon)
    assert _pad_multiple(cfg, "cpu", False) is None  # fp32: only padding (AVX2 EPYC)
    assert _pad_multiple(cfg, "cuda", True) == 8
    cfg.speed.pad_to_multiple_of = 16
    assert _pad_multiple(cfg, "cpu", False) == 16  # set: whatever the precision


def test_attention_table_follows_the_measurements():
    assert attention_implementation("cpu", True, training=True) == "headstart"  # lean: acceleration/attention.py
    assert attention_implementation("cpu", False, training=True) == "headstart"
    assert attention_implementation("cpu", True) == "sdpa"  # prediction: faster on real padded batches
    assert attention_implementation("cuda:0", True, training=True) == "sdpa"
    assert attention_implementation("mps", False) == "sdpa"  # not measured: transformers' default
    assert set(ATTENTION.values()) <= {"headstart", "eager", "sdpa"}


def test_switching_attention_keeps_the_outputs_and_is_not_saved(tiny_model_dir, tmp_path):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).eval()
    batch = {"input_ids": torch.tensor([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]])}
    batch["attention_mask"] = (batch["input_ids"] != 0).long()
    with torch.no_grad():
        before = model(**batch).logits
        assert set_attention(model, "eager") == "eager"
        assert model.config._attn_implementation == "eager"
        after = model(**batch).logits
    assert torch.allclose(before, after, atol=1e-5)
    model.save_pretrained(tmp_path / "saved")
    assert "eager" not in (tmp_path / "saved" / "config.json").read_text()


def test_switching_reaches_the_backbone_of_a_headstart_head(tiny_t5_dir):
    from headstart.acceleration.hardware import attention_of
    from headstart.modeling.classifier import HeadstartClassifier

    model = HeadstartClassifier.from_encoder(str(tiny_t5_dir))
    assert attention_of(model) == "sdpa" == model.encoder.config._attn_implementation
    assert set_attention(model, "eager") == "eager" == model.encoder.config._attn_implementation


@pytest.fixture(scope="module")
def trained_budget(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("budget") / "model"
    cfg = tiny_run_config(tiny_model_dir, out, max_tokens_per_batch=24, num_train_epochs=10)
    return train(cfg, train=SENTIMENT * 2, validation=SENTIMENT)


def test_token_budget_batches_train_and_report_throughput(trained_budget):
    info = json.loads((trained_budget.output_dir / "headstart.json").read_text())
    assert info["precision"] == "fp32"  # HEADSTART_BF16=0 in tests/conftest.py
    assert info["attn_implementation"] == "headstart"  # the training attention
    t = info["throughput"]
    assert t["real_tokens"] > 0 and t["padded_tokens"] >= t["real_tokens"]
    assert 0 <= t["padding_fraction"] < 0.5
    # the tiny model's rate rounds to 0.0 GFLOP/s on a loaded machine: the formula is checked below
    assert t["tokens_per_second"] > 0 and t["model_gflops_per_second"] >= 0 and "model_tflops" in t
    assert info["config"]["train"]["max_tokens_per_batch"] == 24
    assert trained_budget.metrics["validation"]["accuracy"] == 1.0


def test_token_budget_sampler_covers_everything_within_the_budget():
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.integers(3, 60, size=200)] + [90]  # one input over the budget
    sampler = TokenBudgetBatchSampler(lengths, max_tokens=120, seed=7)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(len(lengths)))  # every input once per epoch
        for b in batches:
            assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 120
        epochs.append(batches)
    assert epochs[0] != epochs[1]  # a new order each epoch...
    sampler.set_epoch(1)
    assert list(sampler) == epochs[1]  # ...that a resumed run replays exactly
    again = TokenBudgetBatchSampler(lengths, max_tokens=120, seed=7)
    again.set_epoch(2)
    assert list(again) == epochs[2]
    real = sum(lengths)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in epochs[0])
    assert 1 - real / padded < 0.1  # sorted by length: little padding


def test_zero_token_budget_is_refused():
    with pytest.raises(ConfigError, match="max_tokens_per_batch must be > 0, found 0"):
        RunConfig.from_dict({"train": {"max_tokens_per_batch": 0}})


def test_bf16_flag_takes_true_false_and_auto():
    for value, expected in (("auto", None), ("true", True), ("false", False), ("null", None)):
        assert RunConfig.from_dict({"train": {"bf16": value}}).train.bf16 is expected
    with pytest.raises(ConfigError, match=r"train.bf16 must be true, false or auto \(null\), found 'sometimes'"):
        RunConfig.from_dict({"train": {"bf16": "sometimes"}})


def test_cli_bf16_auto(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "\n".join(f"{r['text']},{r['label']}" for r in SENTIMENT) + "\n")
    flags = ["--bf16", "auto", "--max_tokens_per_batch", "64"]
    code = cli_main(["check", "--train", str(data), "--model", str(tiny_model_dir), *flags])
    assert code in (0, None)


def test_throughput_counts_real_and_padded_tokens(tiny_model_dir):
    meter = Throughput()
    meter.add(torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]))
    meter.add(torch.tensor([[1, 1, 1, 1]]))
    meter._settle()  # report() settles the sums kept on the device
    assert (meter.real_tokens, meter.padded_tokens, meter.sum_squared_lengths, meter.batches) == (9, 12, 29, 2)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    report = meter.report(model, seconds=3.0)
    assert report["padding_fraction"] == 0.25
    assert report["tokens_per_second"] == 3.0
    assert report["model_tflops"] == round(model_flops(model, [3, 2, 4], train=True) / 1e12, 3)


def test_throughput_counts_packed_rows_by_their_examples():
    """TRL's padding-free packing: no attention mask, positions restarting at 0 for each example."""
    meter = Throughput()
    meter.add_packed(torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]]))
    meter._settle()
    assert (meter.real_tokens, meter.padded_tokens, meter.sum_squared_lengths, meter.sequences) == (9, 9, 29, 3)


def test_model_flops_follow_the_formula(tiny_model_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    cfg = model.config
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert linear_weights(model) == weights
    forward = 10 * 2 * weights + 4 * cfg.num_hidden_layers * cfg.hidden_size * 100
    assert model_flops(model, [10], train=False) == forward
    assert model_flops(model, [10], train=True) == 3 * forward
    assert flops_from_counts(model, 10, 100, train=True) == 3 * forward


def test_matmul_peak_is_measured():
    assert matmul_peak("fp32", size=128, repeats=2) > 1e6


def test_matmul_peak_is_the_best_of_the_square_and_feed_forward_shapes(monkeypatch):
    import headstart.acceleration.flops as flops

    asked = []
    rates = {(256, 256, 256): 50e9, (2048, 2048, 2048): 80e9, (4096, 384, 1536): 90e9, (4096, 1536, 384): 96e9}

    def rate(dtype, shape, repeats):
        asked.append(shape)
        return rates[shape]

    monkeypatch.setattr(flops, "_matmul_rate", rate)
    assert matmul_peak("fp32") == 96e9
    assert asked == list(rates)
    rates = {(256, 256, 256): 2e9, (512, 512, 512): 2e9, (1024, 96, 384): 2e9, (1024, 384, 96): 2e9}
    asked.clear()  # an emulated dtype: the probe shrinks the products to about a second each
    assert matmul_peak("bf16") == 2e9 and asked == list(rates)


def test_predictor_in_bf16_agrees_with_fp32(trained_budget):
    texts = [r["text"] for r in SENTIMENT]
    fp32 = Predictor.load(trained_budget.output_dir, bf16=False)
    bf16 = Predictor.load(trained_budget.output_dir, bf16=True)
    assert not fp32.bf16 and bf16.bf16
    assert bf16.model.config._attn_implementation == "sdpa"  # prediction's choice in both precisions
    a, b = fp32.probabilities(texts), bf16.probabilities(texts)
    assert np.abs(a - b).max() < 0.05
    assert [p["label"] for p in fp32.predict(texts)] == [p["label"] for p in bf16.predict(texts)]


def test_an_unavailable_attention_kernel_asked_for_by_name_is_refused(tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=1)
    cfg["speed"]["attn_implementation"] = "flash_attention_2"  # needs a GPU and its package
    with pytest.raises(ConfigError, match="flash_attention_2.*unavailable here.*leave --attn_implementation unset"):
        train(cfg, train=SENTIMENT)
    assert not (tmp_path / "out").exists()


def test_throughput_counts_survive_many_steps():
    meter = Throughput()
    for _ in range(300):  # past the point where pending sums are settled
        meter.add(torch.tensor([[1, 1, 0]]))
    meter._settle()
    assert (meter.real_tokens, meter.padded_tokens, meter.sum_squared_lengths) == (600, 900, 1200)


def test_evaluation_runs_longest_first_in_the_prediction_attention_and_returns_input_order(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer, DataCollatorWithPadding, TrainingArguments

    from headstart.training.trainer import HeadstartTrainer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).eval()
    set_attention(model, "headstart")
    rows = [[2] + [10 + (i * 7 + j) % 30 for j in range(n)] + [3] for i, n in enumerate([3, 11, 1, 7, 20, 5, 9, 2])]
    # a Dataset with a column the model does not take, as the encoded splits have: HF's
    # _remove_unused_columns copies it before the sampler hook sees it
    data = Dataset.from_list(
        [{"input_ids": r, "attention_mask": [1] * len(r), "labels": i % 2, "row": i} for i, r in enumerate(rows)]
    )
    seen = []  # (attention kernel, batch length) of every forward pass
    model.register_forward_pre_hook(
        lambda m, a, kw: seen.append((m.config._attn_implementation, kw["input_ids"].shape[1])), with_kwargs=True
    )
    trainer = HeadstartTrainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=3, report_to=[], use_cpu=True),
        eval_dataset=data,
        data_collator=DataCollatorWithPadding(AutoTokenizer.from_pretrained(tiny_model_dir)),
        eval_lengths=[len(r) for r in rows],
        eval_attention="sdpa",
        compute_metrics=lambda p: {"order": float((p.label_ids == [0, 1] * 4).all())},
    )
    metrics = trainer.evaluate()
    assert [length for _, length in seen] == [22, 9, 4], "longest first: each batch pads to its own rows"
    assert metrics["eval_order"] == 1.0
    seen.clear()
    other = Dataset.from_list(list(data))  # not the validation set: its lengths are unknown, input order
    trainer.predict(other)
    assert [length for _, length in seen] == [13, 22, 11]
    seen.clear()
    out = trainer.predict(data)
    assert [length for _, length in seen] == [22, 9, 4]
    assert {kernel for kernel, _ in seen} == {"sdpa"}
    assert model.config._attn_implementation == "headstart", "training's attention is back after evaluation"
    assert out.label_ids.tolist() == [0, 1] * 4 and out.metrics["test_order"] == 1.0
    with torch.no_grad():
        one_by_one = [model(input_ids=torch.tensor([r])).logits[0] for r in rows]
    assert np.allclose(out.predictions, torch.stack(one_by_one).numpy(), atol=1e-5)
