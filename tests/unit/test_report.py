"""report.html: self-contained (plots inlined, nothing fetched), with every section it promises."""

import base64
import json
import re

import pytest

from headstart import train
from headstart.cli import main
from tests_support import SENTIMENT, ner_rows

PNG = b"\x89PNG\r\n\x1a\n"


def _self_contained_images(page: str) -> list[bytes]:
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page), "nothing is fetched from elsewhere"
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    return [base64.b64decode(s.split(",", 1)[1]) for s in sources]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, tiny_model_dir):
    out = tmp_path_factory.mktemp("report") / "clf"
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "train": {
            "output_dir": str(out),
            "num_train_epochs": 3,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "disable_tqdm": True,
        },
    }
    return train(cfg, train=SENTIMENT, validation=SENTIMENT[:8])


def test_training_writes_a_self_contained_report(classifier):
    out = classifier.output_dir
    page = (out / "report.html").read_text()
    images = _self_contained_images(page)
    assert len(images) == 4 and all(img.startswith(PNG) for img in images)
    for name in ("learning_curves.png", "confusion_matrix.png", "per_class.png", "reliability.png"):
        assert (out / name).read_bytes().startswith(PNG)
    sections = ("Scores", "Confusion matrix (validation)", "Per class (validation)", "Calibration (validation)")
    for section in (*sections, "Data checks"):
        assert section in page
    assert "Label distribution" in page and "Length in tokens" in page and "Estimated before training" in page
    # validation is a slice of train: the report says so
    assert "8 texts (100.0%) also in train" in page


def test_the_report_lists_the_most_confident_mistakes(classifier):
    metrics = json.loads((classifier.output_dir / "metrics.json").read_text())
    mistakes = metrics["validation"]["mistakes"]
    scores = [m["score"] for m in mistakes]
    assert scores == sorted(scores, reverse=True)
    assert all(m["expected"] != m["predicted"] and m["location"] for m in mistakes)
    page = (classifier.output_dir / "report.html").read_text()
    if mistakes:  # a tiny model after 3 epochs may or may not have any
        assert "Most confident mistakes" in page and mistakes[0]["text"] in page


def test_evaluate_writes_the_same_report_for_any_labeled_file(classifier, tmp_path, capsys):
    data = tmp_path / "new.csv"
    data.write_text("text,label\ngreat fun,pos\nboring waste,neg\ngreat fun,neg\n")
    report = tmp_path / "rep"
    assert main(["evaluate", str(classifier.output_dir), "--data", str(data), "--report", str(report)]) == 0
    capsys.readouterr()
    page = (report / "report.html").read_text()
    assert "clf on new.csv" in page and "Confusion matrix (new.csv)" in page
    assert "1 exact duplicate of an earlier text" in page and "new.csv:4" in page
    images = _self_contained_images(page)
    assert len(images) == 4, "learning curves from the model's history, matrix, per class, reliability"
    assert "<script" not in page.replace("&lt;script", "")


def test_ner_report_shows_entities(tmp_path, tiny_model_dir):
    rows = ner_rows()
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "task": {"type": "ner"},
        "train": {"output_dir": str(tmp_path / "ner"), "num_train_epochs": 2, "disable_tqdm": True},
    }
    result = train(cfg, train=rows, validation=rows)
    page = (result.output_dir / "report.html").read_text()
    assert "Per entity type (validation)" in page and "Confusion matrix" not in page
    assert len(_self_contained_images(page)) == 2
    mistakes = json.loads((result.output_dir / "metrics.json").read_text())["validation"]["mistakes"]
    assert mistakes and "Most confident mistakes" in page, "an undertrained tagger makes mistakes"
    assert all(m["predicted"] != m["expected"] for m in mistakes)
