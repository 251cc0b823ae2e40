"""Temperature scaling: the fit, the calibration scores, the fold into every kind of classification
layer, and a trained model whose saved directory gives the calibrated scores to plain pipeline()."""

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss
from transformers import AutoConfig, AutoModelForSequenceClassification, pipeline

from headstart import Predictor, train
from headstart.modeling.classifier import HeadstartClassifier
from headstart.modeling.temperature import fold_temperature
from headstart.tasks.common.calibration import calibration_report, calibration_scores, fit_temperature, softmax
from headstart.tasks.common.windows import SOFTMAX, aggregate
from tests_support import SENTIMENT, tiny_run_config


def _nll(window_logits, owner, n, how, targets, t):
    log_probs = np.log(np.exp(aggregate(window_logits / t, owner, n, how, SOFTMAX)))
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    return -log_probs[np.arange(n), targets].mean()


@pytest.mark.parametrize("how", ["mean", "max"])
def test_the_fitted_temperature_is_the_best_on_a_grid_through_the_window_aggregation(how):
    rng = np.random.default_rng(1)
    owner = np.repeat(np.arange(300), rng.integers(1, 4, 300))  # 1 to 3 windows per document
    targets = rng.integers(0, 3, 300)
    window_logits = 5 * rng.normal(size=(len(owner), 3)) + 6 * np.eye(3)[targets[owner]]
    t = fit_temperature(window_logits, owner, 300, how, targets)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 4000))
    best = grid[np.argmin([_nll(window_logits, owner, 300, how, targets, g) for g in grid])]
    assert t == pytest.approx(best, rel=0.01)


def test_calibration_scores_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    targets = np.array([0, 1, 1, 1])
    scores = calibration_scores(probs, targets, bins=2)
    # bin (0.5, 1]: every row; confidence mean 0.7375, accuracy 3/4
    assert scores["ece"] == pytest.approx(abs(0.7375 - 0.75))
    assert scores["brier"] == pytest.approx(brier_score_loss(targets, probs[:, 1]))
    assert scores["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.7, 0.55])))
    assert [b["count"] for b in scores["reliability"]] == [4]
    three = softmax(np.random.default_rng(0).normal(size=(50, 3)))
    truth = np.random.default_rng(1).integers(0, 3, 50)
    assert calibration_scores(three, truth)["brier"] == pytest.approx(brier_score_loss(truth, three, labels=[0, 1, 2]))
    assert calibration_scores(np.eye(3)[truth], truth)["ece"] == 0.0, "sure and right: calibrated"


def test_the_report_gives_the_raw_scores_back_from_the_folded_ones():
    rng = np.random.default_rng(0)
    raw = 3 * rng.normal(size=(40, 2))
    targets = rng.integers(0, 2, 40)
    report = calibration_report(raw / 2.5, np.arange(40), targets, "mean", 2.5)
    assert report["calibration"]["before"]["ece"] == pytest.approx(calibration_scores(softmax(raw), targets)["ece"])
    assert report["ece"] == report["calibration"]["after"]["ece"]
    assert "temperature" not in calibration_report(raw, np.arange(40), targets, "mean", None)["calibration"]


@pytest.mark.parametrize("backbone", ["tiny_model_dir", "tiny_mpnet_dir", "tiny_gpt2_dir"])
def test_folding_divides_the_logits_of_transformers_heads(backbone, request):
    path = request.getfixturevalue(backbone)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    model.config.pad_token_id = model.config.pad_token_id or 0
    ids = torch.tensor([[2, 7, 9, 3]])
    before = model(input_ids=ids).logits
    fold_temperature(model, 1.7, num_labels=3)
    assert torch.allclose(model(input_ids=ids).logits, before / 1.7, atol=1e-6)


def test_folding_divides_the_logits_of_headstarts_own_head(tiny_model_dir):
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(tiny_model_dir)
    model = HeadstartClassifier.from_encoder(str(tiny_model_dir), pooling="mean", head_hidden_size=8, num_labels=2)
    assert config.model_type == "bert"
    ids = torch.tensor([[2, 7, 9, 3]])
    before = model.eval()(input_ids=ids).logits
    fold_temperature(model, 0.5, num_labels=2)
    assert torch.allclose(model(input_ids=ids).logits, before / 0.5, atol=1e-6)


def _run(tiny_model_dir, tmp_path, name, **task):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / name, task={"type": "text-classification", **task})
    cfg["train"]["num_train_epochs"] = 3  # not yet sure of every text: something to calibrate
    return train(cfg, train=SENTIMENT, validation=SENTIMENT[::2], test=SENTIMENT[1::2])


def test_a_trained_model_is_calibrated_on_validation_and_pipeline_returns_those_scores(tiny_model_dir, tmp_path):
    raw = _run(tiny_model_dir, tmp_path, "raw", calibrate=False)
    calibrated = _run(tiny_model_dir, tmp_path, "calibrated")
    info = json.loads((calibrated.output_dir / "headstart.json").read_text())
    t = info["temperature"]
    assert t is not None and t != pytest.approx(1.0, abs=1e-3)
    assert json.loads((raw.output_dir / "headstart.json").read_text())["temperature"] is None
    texts = [r["text"] for r in SENTIMENT]
    from headstart.tasks.text_classification.task import logits

    folded = logits(Predictor.load(calibrated.output_dir), texts)
    unfolded = logits(Predictor.load(raw.output_dir), texts)
    assert np.allclose(folded * t, unfolded, atol=1e-4), "the same weights, the last layer divided by T"
    pipe = pipeline("text-classification", model=str(calibrated.output_dir), top_k=None)
    ours = Predictor.load(calibrated.output_dir).predict(texts[:4], all_scores=True)
    for got, want in zip(pipe(texts[:4]), ours):
        assert all(abs(s["score"] - want["scores"][s["label"]]) < 1e-5 for s in got)
    metrics = json.loads((calibrated.output_dir / "metrics.json").read_text())
    valid = metrics["validation"]["calibration"]
    assert valid["temperature"] == t
    assert valid["after"]["nll"] <= valid["before"]["nll"] + 1e-9, "T minimises the validation NLL"
    assert metrics["test"]["ece"] == metrics["test"]["calibration"]["after"]["ece"]
    assert metrics["validation"]["accuracy"] == raw.metrics["validation"]["accuracy"], "labels never change"
    assert raw.metrics["validation"]["calibration"].keys() == {"after"}
    card = (calibrated.output_dir / "README.md").read_text()
    assert f"temperature {t:.3f}" in card and "expected calibration error" in card
    page = (calibrated.output_dir / "report.html").read_text()
    assert "Calibration (test)" in page and (calibrated.output_dir / "reliability.png").is_file()


def test_without_a_validation_file_the_held_out_split_calibrates(tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={"type": "text-classification"})
    cfg["data"] = {"validation_fraction": 0.25}
    result = train(cfg, train=SENTIMENT * 2, test=SENTIMENT)
    assert json.loads((result.output_dir / "headstart.json").read_text())["temperature"] is not None
    assert "ece" in result.metrics["test"] and "before" in result.metrics["test"]["calibration"]
