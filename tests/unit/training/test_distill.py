"""headstart distill: the loss, a student of another architecture and tokenizer learning a teacher's
scores (with teacher-labelled unlabeled text), what its directory records, and the refusals."""

import json

import numpy as np
import pytest
import torch
from torch import nn
from transformers import pipeline

from headstart import Predictor, distill, train
from headstart.cli import main
from headstart.errors import ConfigError, DataError
from headstart.modeling.losses import distillation_loss
from tests_support import NEGATIVE, POSITIVE, SENTIMENT, ner_rows, tiny_run_config


def test_the_loss_mixes_the_gold_labels_and_the_teachers_softened_scores():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 3), torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    hard = nn.functional.cross_entropy(student, labels)
    kl = nn.functional.kl_div(
        nn.functional.log_softmax(student / 2, -1), nn.functional.softmax(teacher / 2, -1), reduction="batchmean"
    )
    assert torch.isclose(distillation_loss(student, teacher, labels, 2.0, 1.0), hard)
    assert torch.isclose(distillation_loss(student, teacher, labels, 2.0, 0.0), 4 * kl)
    assert torch.isclose(distillation_loss(student, teacher, labels, 2.0, 0.3), 0.3 * hard + 0.7 * 4 * kl)
    # token level: positions labelled -100 take no part
    tokens, teacher_tokens = student.view(2, 3, 3), teacher.view(2, 3, 3)
    masked = torch.tensor([[0, -100, 2], [-100, 1, 2]])
    keep = masked.view(-1) != -100
    want = distillation_loss(student[keep], teacher[keep], masked.view(-1)[keep], 2.0, 0.5)
    assert torch.isclose(distillation_loss(tokens, teacher_tokens, masked, 2.0, 0.5), want)


@pytest.fixture(scope="module")
def teacher_dir(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "model"
    return train(tiny_run_config(tiny_model_dir, out), train=SENTIMENT, validation=SENTIMENT).output_dir


UNLABELED = [{"text": f"{p} {q}"} for p in POSITIVE[:6] for q in ("indeed", "really")]


def test_a_student_of_another_architecture_learns_the_teachers_scores(teacher_dir, tiny_mpnet_dir, tmp_path):
    cfg = tiny_run_config(tiny_mpnet_dir, tmp_path / "student")
    result = distill(cfg, teacher=teacher_dir, alpha=0.0, unlabeled=UNLABELED, train=SENTIMENT, validation=SENTIMENT)
    texts = [r["text"] for r in SENTIMENT]
    theirs = [p["label"] for p in Predictor.load(teacher_dir).predict(texts)]
    student = Predictor.load(result.output_dir)
    ours = [p["label"] for p in student.predict(texts)]
    assert np.mean([a == b for a, b in zip(ours, theirs)]) >= 0.9, "alpha 0: the teacher's scores alone"
    info = json.loads((result.output_dir / "headstart.json").read_text())
    record = info["distilled_from"]
    assert record["teacher"] == str(teacher_dir) and record["unlabeled_examples"] == len(UNLABELED)
    assert record["teacher_scores"]["validation"]["accuracy"] > 0.5 and record["alpha"] == 0.0
    assert info["data"]["train"]["examples"] == len(SENTIMENT) + len(UNLABELED)
    assert info["base_model"] == str(tiny_mpnet_dir)
    card = (result.output_dir / "README.md").read_text()
    assert f"distilled from `{teacher_dir}`" in card and "plus 12 unlabeled examples" in card
    assert "teacher 1.0000" in card or "teacher 0." in card
    pipe = pipeline("text-classification", model=str(result.output_dir))
    assert [p["label"] for p in pipe(texts[:4])] == ours[:4], "a normal saved directory"


def test_distillation_refusals(teacher_dir, tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "a")
    with pytest.raises(ConfigError, match="temperature > 0 and alpha in"):
        distill(cfg, teacher=teacher_dir, temperature=0, train=SENTIMENT)
    other = [{"text": r["text"], "label": "meh"} for r in SENTIMENT[:4]] + SENTIMENT
    with pytest.raises(DataError, match="labels it does not: meh"):
        distill(cfg, teacher=teacher_dir, train=other)
    pairs = [{"text": r["text"], "text_pair": "and so on", "label": r["label"]} for r in SENTIMENT]
    with pytest.raises(DataError, match=r"training inputs of the teacher's kind \(single texts\).*found text pairs"):
        distill(cfg, teacher=teacher_dir, train=pairs)
    ner = train(tiny_run_config(tiny_model_dir, tmp_path / "ner", task={"type": "ner"}), train=ner_rows())
    with pytest.raises(ConfigError, match="a teacher of a task that can be distilled .* found a token-classification"):
        distill(cfg, teacher=ner.output_dir, train=SENTIMENT)
    assert not (tmp_path / "a").exists(), "nothing written"


def test_the_distill_command(teacher_dir, tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in SENTIMENT))
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"text": t}) + "\n" for t in NEGATIVE[:5]))
    out = tmp_path / "student"
    argv = [
        "distill",
        "--teacher",
        str(teacher_dir),
        "--student",
        str(tiny_model_dir),
        "--train",
        str(data),
        "--validation",
        str(data),
        "--unlabeled",
        str(more),
        "-o",
        str(out),
        "--max_length",
        "32",
        "--epochs",
        "3",
        "--set",
        "train.learning_rate=0.003",
        "--temperature",
        "3",
        "--alpha",
        "0.2",
    ]
    assert main(argv) == 0
    assert f"saved to {out}" in capsys.readouterr().out
    record = json.loads((out / "headstart.json").read_text())["distilled_from"]
    assert (record["temperature"], record["alpha"], record["unlabeled_examples"]) == (3.0, 0.2, 5)
