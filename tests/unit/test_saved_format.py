"""Directories saved by an earlier release load and predict the same (tests/assets/saved_v1)."""

import json
from pathlib import Path

import numpy as np
import pytest

from headstart import Predictor

SAVED = Path(__file__).parents[1] / "assets" / "saved_v1"
EXPECTED = json.loads((SAVED / "expected.json").read_text(encoding="utf-8"))
TEXTS = ["great movie loved it", "boring film terrible acting", "a film", "wonderful and dull"]


def _same(got, want) -> None:
    """Equal structure and strings, floats within 1e-5."""
    if isinstance(want, dict):
        assert set(got) == set(want)
        for key in want:
            _same(got[key], want[key])
    elif isinstance(want, list):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            _same(a, b)
    elif isinstance(want, float):
        assert np.isclose(got, want, atol=1e-5), (got, want)
    else:
        assert got == want


@pytest.mark.parametrize("name", ["text-classification", "multi-label-classification"])
def test_saved_classifiers_predict_the_same(name):
    predictor = Predictor.load(SAVED / name)
    _same(predictor.predict(TEXTS, all_scores=True), EXPECTED[name])


def test_saved_crf_tagger_predicts_the_same():
    predictor = Predictor.load(SAVED / "token-classification-crf")
    want = EXPECTED["token-classification-crf"]
    _same(predictor.predict(["she said the company was great", "the market loved xyzzy"]), want["entities"])
    _same(predictor.predict([["he", "hated", "new", "company", "so", "much"]]), want["tags"])


@pytest.mark.parametrize(
    "name, task, rows",
    [
        ("text-classification", None, "sentiment"),
        ("multi-label-classification", {"type": "multi-label-classification"}, "topics"),
        ("token-classification-crf", {"type": "ner", "crf": True}, "ner"),
    ],
)
def test_the_saved_format_is_unchanged(name, task, rows, tiny_model_dir, tmp_path):
    """headstart.json has the keys the earlier release wrote, and the same task settings."""
    from headstart import train
    from tests_support import SENTIMENT, ner_rows, tiny_run_config

    data = {
        "sentiment": SENTIMENT,
        "topics": [
            {"text": r["text"], "labels": [r["label"]] + (["film"] if "film" in r["text"] else [])} for r in SENTIMENT
        ],
        "ner": ner_rows(),
    }[rows]
    result = train(
        tiny_run_config(tiny_model_dir, tmp_path / "out", task=task, num_train_epochs=1), train=data, validation=data
    )
    saved = json.loads((result.output_dir / "headstart.json").read_text(encoding="utf-8"))
    before = json.loads((SAVED / name / "headstart.json").read_text(encoding="utf-8"))
    added = {"temperature"}  # keys written since: old directories load without them (default None)
    assert sorted(set(saved) - added) == sorted(before)
    changing = {
        "temperature",
        "created",
        "data",
        "notes",
        "train_seconds",
        "config",
        "data_checks",
        "throughput",
        "versions",
        "base_model",
        "threshold",
        "threshold_source",
        "attn_implementation",
        "dropout_implementation",
    }
    assert {k: v for k, v in saved.items() if k not in changing} == {
        k: v for k, v in before.items() if k not in changing
    }


def test_a_damaged_headstart_json_is_a_clear_error(tmp_path):
    import shutil

    from headstart.errors import ModelLoadError

    model = tmp_path / "model"
    shutil.copytree(SAVED / "multi-label-classification", model)
    info = json.loads((model / "headstart.json").read_text(encoding="utf-8"))
    (model / "headstart.json").write_text(json.dumps({**info, "threshold": "high"}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="valid headstart.json.*threshold should be float, found 'high'"):
        Predictor.load(model)
    (model / "headstart.json").write_text(json.dumps({**info, "task": "poetry"}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="a model of a task this headstart knows.*found task 'poetry'"):
        Predictor.load(model)
