"""Configurable heads, multi-label, regression and class weights on the tiny BERT."""

import json

import numpy as np
import pytest
import torch

from headstart import Predictor, train
from headstart.data.labels import LabelSet
from headstart.errors import ConfigError, LabelError
from headstart.modeling.losses import single_label_loss, weighted_loss
from headstart.tasks.common.class_weights import resolve_class_weights
from tests_support import SENTIMENT, tiny_run_config


def _run(tiny_model_dir, tmp_path, rows, task=None, model=None, validation=None, **train_cfg):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task=task, **train_cfg)
    cfg["model"].update(model or {})
    return train(cfg, train=rows, validation=validation or rows)


@pytest.mark.parametrize("pooling", ["cls", "mean", "max", "last"])
def test_configured_head_is_saved_and_reloaded_with_the_same_scores(pooling, tiny_model_dir, tmp_path):
    from transformers import pipeline

    head = {"pooling": pooling, "head_hidden_size": 16, "head_activation": "gelu", "classifier_dropout": 0.2}
    result = _run(tiny_model_dir, tmp_path, SENTIMENT, model=head)
    assert result.metrics["validation"]["accuracy"] >= 0.9
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["model_type"] == "headstart_classifier" and config["pooling"] == pooling
    assert config["head_hidden_size"] == 16 and config["classifier_dropout"] == 0.2
    texts = [r["text"] for r in SENTIMENT]
    predictor = Predictor.load(result.output_dir)
    batched = predictor.probabilities(texts)
    assert np.allclose(batched, np.concatenate([predictor.probabilities([t], batch_size=1) for t in texts]), atol=1e-5)
    # importing headstart registered the class: transformers' own pipeline loads the directory
    pipe = pipeline("text-classification", model=str(result.output_dir), top_k=None)
    for theirs, mine in zip(pipe(texts), predictor.predict(texts, all_scores=True)):
        assert all(abs(s["score"] - mine["scores"][s["label"]]) < 1e-5 for s in theirs)
    card = (result.output_dir / "README.md").read_text()
    assert "import headstart" in card


def test_default_head_stays_the_stock_class(tiny_model_dir, tmp_path):
    result = _run(tiny_model_dir, tmp_path, SENTIMENT, model={"classifier_dropout": 0.3}, num_train_epochs=1)
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"] and config["classifier_dropout"] == 0.3


MULTI = [
    {"text": r["text"], "topics": f"{r['label']},cinema" if "film" in r["text"] else r["label"]} for r in SENTIMENT
]


def test_multi_label_tunes_its_threshold_and_predicts_label_sets(tiny_model_dir, tmp_path):
    from transformers import pipeline

    rows = [{"text": r["text"], "labels": r["topics"]} for r in MULTI]
    # headstart's head reads the [CLS] state itself. The stock class goes through the tiny model's
    # random dense+tanh pooler, which learned pos/neg slowly under sigmoids: at 40 epochs both
    # stayed at F1 0.67 (every row given both) for 10 of 24 seeds, at 300 for 2; this head: 0 of 24.
    # The stock multi-label class is checked against the pipeline in the next test.
    result = _run(
        tiny_model_dir, tmp_path, rows, task={"type": "multi-label"}, model={"pooling": "cls"}, num_train_epochs=40
    )
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["task"] == "multi-label-classification" and info["labels"] == ["cinema", "neg", "pos"]
    assert 0.05 <= info["threshold"] <= 0.95 and info["threshold_source"].startswith("tuned on validation")
    val = result.metrics["validation"]
    assert val["f1_micro"] >= 0.9 and {"subset_accuracy", "f1_macro", "hamming_loss"} <= set(val)
    assert val["per_class"]["cinema"]["support"] == sum("film" in r["text"] for r in SENTIMENT)
    predictor = Predictor.load(result.output_dir)
    got = predictor.predict(["wonderful film excellent acting", "awful movie hated it"], all_scores=True)
    assert set(got[0]["labels"]) == {"pos", "cinema"} and got[1]["labels"] == ["neg"]
    assert got[0]["scores"]["cinema"] >= info["threshold"] and sum(got[0]["scores"].values()) > 1  # sigmoids
    pipe = pipeline("text-classification", model=str(result.output_dir), top_k=None)
    theirs = {s["label"]: s["score"] for s in pipe(["wonderful film excellent acting"])[0]}
    assert all(abs(theirs[k] - v) < 1e-5 for k, v in got[0]["scores"].items())


def test_multi_label_threshold_can_be_fixed_and_unknown_labels_are_refused(tiny_model_dir, tmp_path):
    from transformers import pipeline

    rows = [{"text": r["text"], "labels": r["topics"].split(",")} for r in MULTI]  # lists this time
    result = _run(tiny_model_dir, tmp_path, rows, task={"type": "multi-label", "threshold": 0.3}, num_train_epochs=2)
    assert json.loads((result.output_dir / "headstart.json").read_text())["threshold"] == 0.3
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["problem_type"] == "multi_label_classification"
    text = "wonderful film excellent acting"
    got = Predictor.load(result.output_dir).predict([text], all_scores=True)[0]
    assert set(got["labels"]) == {k for k, v in got["scores"].items() if v >= 0.3}  # the fixed threshold
    theirs = {
        s["label"]: s["score"]
        for s in pipeline("text-classification", model=str(result.output_dir), top_k=None)([text])[0]
    }
    assert all(abs(theirs[k] - v) < 1e-5 for k, v in got["scores"].items())  # sigmoids in both
    bad = [{"text": "great movie", "labels": "pos;cinema"}]  # a different delimiter: one unknown label
    seen = r"input row 1: expected a label seen in training \(cinema, neg, pos\); found 'pos;cinema'"
    with pytest.raises(LabelError, match=seen):
        _run(tiny_model_dir, tmp_path / "b", rows, task={"type": "multi-label"}, validation=bad)


RATINGS = [
    {"text": r["text"], "rating": (4.0 if r["label"] == "pos" else 1.5) + i % 4 / 10} for i, r in enumerate(SENTIMENT)
]


def test_regression_predicts_in_data_units_and_loads_in_pipeline(tiny_model_dir, tmp_path):
    from transformers import pipeline

    result = _run(tiny_model_dir, tmp_path, RATINGS, task={"type": "regression"})
    val = result.metrics["validation"]
    assert val["pearson"] > 0.9 and val["mae"] < 0.6, val
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["labels"] == ["score"] and info["target_scale"]["std"] > 1
    predictor = Predictor.load(result.output_dir)
    got = predictor.predict(["great movie loved it", "awful movie hated it"])
    assert got[0]["score"] > 3.3 and got[1]["score"] < 2.2  # the folded scale: ratings, not z-scores
    pipe = pipeline("text-classification", model=str(result.output_dir), function_to_apply="none")
    assert abs(pipe(["great movie loved it"])[0]["score"] - got[0]["score"]) < 1e-4


def test_regression_refuses_a_non_number_with_its_line(tiny_model_dir, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("text,rating\ngreat movie,4.5\ndull film,n/a\n", encoding="utf-8")
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={"type": "regression"})
    cfg["data"] = {"train": str(path)}
    message = r"ratings.csv:3: expected a number in column 'rating'; found 'n/a' \(not a number\)"
    with pytest.raises(LabelError, match=message):
        train(cfg)


def test_class_weights_resolve_auto_and_explicit():
    labels = LabelSet(["a", "b", "c"])
    assert resolve_class_weights("auto", labels, [0, 0, 0, 1, 2, 2], multi_label=False) == pytest.approx(
        [6 / 9, 2.0, 1.0]
    )
    assert resolve_class_weights({"c": 3}, labels, [0, 1, 2], multi_label=False) == [1.0, 1.0, 3.0]
    with pytest.raises(ConfigError, match="unknown label 'd'"):
        resolve_class_weights("d=2", labels, [0], multi_label=False)
    with pytest.raises(ConfigError, match="a positive number.*b='-1'"):
        resolve_class_weights("b=-1", labels, [0], multi_label=False)
    with pytest.raises(ConfigError, match="label=weight pairs"):
        resolve_class_weights("balanced", labels, [0], multi_label=False)


def test_weighted_loss_divides_by_the_accumulated_item_count():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    fn = weighted_loss([1.0, 2.0, 0.5], single_label_loss)
    weights = torch.tensor([1.0, 2.0, 0.5])
    summed = single_label_loss(logits, labels, weights, reduction="sum")
    assert torch.isclose(fn({"logits": logits}, labels, num_items_in_batch=8), summed / 8)
    assert torch.isclose(
        fn({"logits": logits}, labels),
        torch.nn.functional.cross_entropy(logits, labels, weight=weights),
    )


def test_class_weights_reach_the_loss_and_are_saved(tiny_model_dir, tmp_path):
    skewed = SENTIMENT + [r for r in SENTIMENT if r["label"] == "pos"] * 9  # pos 60 : neg 6
    result = _run(tiny_model_dir, tmp_path, skewed, task={"class_weights": "auto"}, num_train_epochs=3)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["class_weights"] == pytest.approx({"neg": 66 / 12, "pos": 66 / 120})
    findings = [f["check"] for f in info["data_checks"]["findings"]]
    assert "imbalance" in findings


def test_class_weights_config_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="class_weights applies to softmax heads"):
        _run(tiny_model_dir, tmp_path, SENTIMENT, task={"type": "ner", "crf": True, "class_weights": "auto"})
    with pytest.raises(LabelError, match="no task.class_weights or task.positive_label for regression"):
        _run(tiny_model_dir, tmp_path, RATINGS, task={"type": "regression", "class_weights": "auto"})


def test_cli_flags_for_heads_tasks_and_weights(tiny_model_dir, tmp_path, capsys):
    from headstart.cli import main

    data = tmp_path / "topics.jsonl"
    data.write_text("\n".join(json.dumps({"text": r["text"], "labels": r["topics"]}) for r in MULTI) + "\n")
    out = tmp_path / "model"
    args = ["train", "--model", str(tiny_model_dir), "--train", str(data), "--validation", str(data), "-o", str(out)]
    args += ["--task", "multi-label", "--pooling", "mean", "--head_hidden_size", "8", "--dropout", "0"]
    args += ["--class-weights", "auto", "--epochs", "40", "--lr", "3e-3", "--batch-size", "4", "--disable_tqdm"]
    args += ["--set", "train.warmup_steps=0", "--set", "train.eval_strategy=no", "--max_length", "32"]
    assert main(args) == 0
    info = json.loads((out / "headstart.json").read_text())
    assert info["task"] == "multi-label-classification" and set(info["class_weights"]) == {"cinema", "neg", "pos"}
    assert info["config"]["model"]["pooling"] == "mean" and info["architecture"] == "HeadstartClassifier"
    capsys.readouterr()
    assert main(["predict", str(out), "wonderful film excellent acting"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(line["labels"]) == {"pos", "cinema"}


@pytest.mark.parametrize(
    "task, model",
    [
        ("text-classification", {}),  # transformers' own head
        ("text-classification", {"pooling": "mean"}),  # headstart's head
        ("token-classification", {}),
        ("token-classification", {"crf": True}),
    ],
)
@pytest.mark.parametrize("rate", [0.0, 0.25, None, "auto"])
def test_attention_dropout_reaches_the_backbone_of_every_head(task, model, rate, tiny_model_dir, tmp_path):
    from headstart.config import RunConfig
    from headstart.modeling.backbones import backbone_configs
    from headstart.tasks import get_task

    cfg = RunConfig()
    cfg.task.type, cfg.task.crf = task, model.pop("crf", False)
    cfg.model.pooling, cfg.model.attention_dropout = model.get("pooling"), rate
    names = ["O", "B-PER", "I-PER"] if task == "token-classification" else ["neg", "pos"]
    built = get_task(task).build_model(str(tiny_model_dir), LabelSet(names), cfg)
    # None: the backbone's own (BertConfig's default); auto: 0 for BERT, whose training attention is fused
    expected = {None: 0.1, "auto": 0.0}.get(rate, rate)
    assert {c.attention_probs_dropout_prob for c in backbone_configs(built)} == {expected}
    attention = next(m for m in built.modules() if type(m).__name__ == "BertSelfAttention")
    assert attention.dropout.p == expected, "the attention layers are built with it"
    assert {c.hidden_dropout_prob for c in backbone_configs(built)} == {0.1}, "hidden-state dropout untouched"


def test_attention_dropout_setting_of_decoders_and_t5(tiny_gpt2_dir, tiny_llama_dir, tiny_t5_dir):
    from headstart.modeling.backbones import encoder_from_pretrained

    assert encoder_from_pretrained(str(tiny_gpt2_dir), 0.0).config.attn_pdrop == 0.0
    assert encoder_from_pretrained(str(tiny_gpt2_dir)).config.attn_pdrop == 0.1
    assert encoder_from_pretrained(str(tiny_llama_dir), 0.2).config.attention_dropout == 0.2
    t5 = encoder_from_pretrained(str(tiny_t5_dir), 0.0).config
    assert t5.dropout_rate == 0.1 and not hasattr(t5, "attention_dropout"), "T5 keeps its single dropout_rate"


def test_attention_dropout_auto_keeps_the_rate_of_backbones_with_their_own_attention(tiny_mpnet_dir, tmp_path):
    from headstart.config import RunConfig
    from headstart.tasks import get_task

    cfg = RunConfig()
    cfg.model.attention_dropout = "auto"  # the default: MPNet always runs its eager attention, 0 would buy nothing
    built = get_task("text-classification").build_model(str(tiny_mpnet_dir), LabelSet(["neg", "pos"]), cfg)
    assert built.config.attention_probs_dropout_prob == 0.1
    cfg.model.attention_dropout = 0.0
    built = get_task("text-classification").build_model(str(tiny_mpnet_dir), LabelSet(["neg", "pos"]), cfg)
    assert built.config.attention_probs_dropout_prob == 0.0, "a rate set by hand is kept"


def test_attention_dropout_outside_zero_to_one_is_refused():
    from headstart.config import RunConfig, apply_overrides

    cfg = RunConfig()
    cfg.model.attention_dropout = 1.0
    with pytest.raises(
        ConfigError, match=r"model.attention_dropout must be auto, null or a number in \[0, 1\), found 1.0"
    ):
        cfg.validate()
    cfg.model.attention_dropout = "sometimes"
    with pytest.raises(ConfigError, match=r"found 'sometimes'"):
        cfg.validate()
    apply_overrides(cfg, ["model.attention_dropout=0.1"])
    assert cfg.model.attention_dropout == 0.1 and cfg.validate()
