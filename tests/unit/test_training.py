"""train -> save -> reload -> predict on the tiny model: the contract every task must keep."""

import json
import re
from typing import Any

import numpy as np
import pytest
from transformers import pipeline

from headstart import OutputExistsError, Predictor, evaluate, train
from headstart.errors import ConfigError, DataError, ModelLoadError
from tests_support import SENTIMENT, tiny_run_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("runs") / "model")
    result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
    return result


def test_overfits_saves_and_reloads_with_identical_predictions(trained):
    assert trained.metrics["validation"]["accuracy"] == 1.0
    predictor = Predictor.load(trained.output_dir)
    texts = [row["text"] for row in SENTIMENT]
    preds = predictor.predict(texts)
    assert [p["label"] for p in preds] == [row["label"] for row in SENTIMENT]
    again = Predictor.load(trained.output_dir).predict(texts)
    assert preds == again


def test_saved_directory_layout(trained):
    names = {p.name for p in trained.output_dir.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "headstart.json",
        "metrics.json",
        "README.md",
        "report.html",
    } <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names), "no pickles in a saved model"
    assert not any(p.name.startswith(".model.partial") for p in trained.output_dir.parent.iterdir())
    info = json.loads((trained.output_dir / "headstart.json").read_text())
    assert info["labels"] == ["neg", "pos"] and info["task"] == "text-classification"
    assert info["config"]["train"]["learning_rate"] == 3e-3 and "transformers" in info["versions"]
    config = json.loads((trained.output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    metrics = json.loads((trained.output_dir / "metrics.json").read_text())
    assert metrics["validation"]["per_class"]["pos"]["support"] == 6 and metrics["history"]
    assert 'pipeline("text-classification"' in (trained.output_dir / "README.md").read_text()


def test_plain_transformers_pipeline_gives_the_same_labels_and_scores(trained):
    texts = ["great fun", "boring waste", "the plot", "loved it", "hated the acting"]
    ours = Predictor.load(trained.output_dir).predict(texts)
    pipe = pipeline("text-classification", model=str(trained.output_dir), device="cpu")
    theirs = pipe(texts, truncation=True)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert np.allclose([p["score"] for p in ours], [p["score"] for p in theirs], atol=1e-5)


def test_batched_equals_unbatched_and_order_is_kept(trained):
    predictor = Predictor.load(trained.output_dir)
    texts = ["great", "a very long boring and terrible film with poor acting", "loved", "awful plot", "fun"]
    batched = predictor.probabilities(texts, batch_size=4)
    single = np.concatenate([predictor.probabilities([t]) for t in texts])
    assert np.allclose(batched, single, atol=1e-5)
    full = predictor.predict(texts, all_scores=True)
    assert set(full[0]["scores"]) == {"neg", "pos"}
    assert full[0]["score"] == pytest.approx(max(full[0]["scores"].values()))


def test_evaluate_on_a_file(trained, tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text('{"text": "great fun", "label": "pos"}\n{"text": "boring waste", "label": "neg"}\n')
    metrics = evaluate(trained.output_dir, path)
    assert metrics["n"] == 2 and 0 <= metrics["accuracy"] <= 1 and "per_class" in metrics
    path.write_text('{"text": "great fun", "label": "meh"}\n')
    with pytest.raises(DataError, match=r"dev.jsonl:1: expected a label seen in training \(neg, pos\)"):
        evaluate(trained.output_dir, path)


def test_predictor_refuses_pairs_for_a_single_text_model(trained):
    with pytest.raises(DataError, match="single texts"):
        Predictor.load(trained.output_dir).predict([("a", "b")])


def test_existing_output_is_never_overwritten(trained, tiny_model_dir):
    before = (trained.output_dir / "model.safetensors").read_bytes()
    cfg = {"model": {"name": str(tiny_model_dir)}, "train": {"output_dir": str(trained.output_dir)}}
    with pytest.raises(OutputExistsError, match="--overwrite"):
        train(cfg, train=SENTIMENT)
    assert (trained.output_dir / "model.safetensors").read_bytes() == before


def test_failed_run_leaves_no_partial_directory(tmp_path, tiny_model_dir):
    cfg = {
        "model": {"name": str(tiny_model_dir)},
        "train": {"output_dir": str(tmp_path / "m"), "metric_for_best_model": "bleu", "disable_tqdm": True},
    }
    with pytest.raises(ConfigError, match="metric_for_best_model among"):
        train(cfg, train=SENTIMENT)
    assert list(tmp_path.iterdir()) == []


def test_pairs_and_truncation_are_reported(tmp_path, tiny_model_dir):
    rows = [
        {"sentence1": f"the movie {w}", "sentence2": " ".join(["great fun"] * n), "label": w == "good"}
        for n, w in [(1, "good"), (20, "bad"), (2, "good"), (1, "bad")] * 3
    ]
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 16},
        "train": {"output_dir": str(tmp_path / "pair"), "num_train_epochs": 1, "disable_tqdm": True},
    }
    result = train(cfg, train=rows, validation=rows)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["is_pair"] and info["data"]["train"]["truncated"] == 3
    assert any("3 of 12 examples were truncated" in n for n in result.notes)
    preds = Predictor.load(result.output_dir).predict([("the movie good", "great fun")])
    assert preds[0]["label"] in ("0", "1")


def test_unreachable_hub_id_lists_bundled_models(tmp_path):
    cfg = {"model": {"name": "nobody/no-such-model-xyz"}, "train": {"output_dir": str(tmp_path / "m")}}
    with pytest.raises(ModelLoadError, match="bundled model: minilm.*bert-tiny"):
        train(cfg, train=SENTIMENT)


def test_early_stopping_and_best_checkpoint(tmp_path, tiny_model_dir):
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "train": {
            "output_dir": str(tmp_path / "es"),
            "num_train_epochs": 10,
            "learning_rate": 1e-9,
            "early_stopping_patience": 2,
            "disable_tqdm": True,
            "per_device_train_batch_size": 4,
        },
    }
    result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
    history = json.loads((result.output_dir / "metrics.json").read_text())["history"]
    evals = [h for h in history if "eval_accuracy" in h]
    assert len(evals) == 3, "stops after 2 evaluations without improvement"
    assert result.metrics["validation"]["accuracy"] == max(h["eval_accuracy"] for h in evals)


def test_one_epoch_scores_validation_once_after_training(tmp_path, tiny_model_dir, monkeypatch):
    from headstart.training.trainer import HeadstartTrainer

    passes = []  # validation passes inside training, per run
    evaluate = HeadstartTrainer.evaluate
    monkeypatch.setattr(HeadstartTrainer, "evaluate", lambda self, *a, **k: passes.append(1) or evaluate(self, *a, **k))

    def run(name: str, **train_settings) -> tuple[Any, list[dict]]:
        passes.clear()
        cfg = {
            "model": {"name": str(tiny_model_dir), "max_length": 32},
            "train": {"output_dir": str(tmp_path / name), "disable_tqdm": True, "per_device_train_batch_size": 4}
            | train_settings,
        }
        result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
        return result, json.loads((result.output_dir / "metrics.json").read_text())["history"]

    one, history = run("one", num_train_epochs=1)
    assert passes == [], "one epoch: the pass inside training would score the final weights twice"
    (point,) = [h for h in history if "eval_accuracy" in h]
    assert point["scored_after_training"] and point["step"] == max(h["step"] for h in history)
    assert point["eval_accuracy"] == one.metrics["validation"]["accuracy"]
    assert (one.output_dir / "learning_curves.png").exists()
    _, history = run("two", num_train_epochs=2)
    assert len(passes) == 2 and len([h for h in history if "eval_accuracy" in h]) == 2, "epochs to choose from"
    _, history = run("steps", num_train_epochs=1, max_steps=2)
    assert len(passes) == 1, "a max_steps run keeps its evaluation"


def test_bf16_training_runs_on_cpu(tmp_path, tiny_model_dir):
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "train": {"output_dir": str(tmp_path / "bf16"), "num_train_epochs": 1, "bf16": True, "disable_tqdm": True},
    }
    result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
    assert 0 <= result.metrics["validation"]["accuracy"] <= 1
    assert len(Predictor.load(result.output_dir).predict(["great fun"])) == 1


def test_data_checks_speak_before_training_starts(tmp_path, tiny_model_dir, caplog):
    rows = SENTIMENT + [SENTIMENT[0], {"text": SENTIMENT[1]["text"].upper() + " !", "label": SENTIMENT[1]["label"]}]
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    (tmp_path / "dev.csv").write_text(f"text,label\n{SENTIMENT[2]['text']},pos\nsomething else entirely,neg\n")
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "dev.csv")},
        "train": {"output_dir": str(tmp_path / "m"), "num_train_epochs": 1, "disable_tqdm": True},
    }
    caplog.set_level("INFO")
    result = train(cfg)
    messages = [r.getMessage() for r in caplog.records]
    start = next(i for i, m in enumerate(messages) if m.startswith("training on"))
    before = "\n".join(messages[:start])
    assert "train: 1 exact duplicate of an earlier text in this split (e.g. " in before
    assert "train.csv:14)" in before, "the duplicate's file and line"
    assert "train: 1 near-duplicate of an earlier text (equal up to case" in before and "train.csv:15)" in before
    assert "validation: 1 text (50.0%) also in train" in before
    assert re.search(r"dev\.csv:2 = \S*train\.csv:4", before), "both sides of the leak, with lines"
    assert "estimated time:" in before
    info = json.loads((result.output_dir / "headstart.json").read_text())
    checks = info["data_checks"]
    assert {f["check"] for f in checks["findings"]} >= {"duplicates", "near_duplicates", "leakage"}
    assert checks["estimate"]["tokens_per_second"] > 0 and checks["estimate"]["total_seconds"] > 0
    assert checks["lengths"]["train"]["max"] > 0
    assert "full_lengths" not in info["data"]["train"]
