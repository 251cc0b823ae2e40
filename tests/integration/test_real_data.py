"""Real files from ../shared/data and the real bundled backbones (skipped when absent).

These read the datasets exactly as distributed (BOM, CRLF, literal quotes) and train the real
SPLADE-tiny BERT for a few seconds; the full-size quality runs live in bench/engine_quality.py.
"""

import json

import numpy as np
import pytest
from transformers import pipeline

from headstart import Embedder, Predictor, evaluate, read_token_file, train
from headstart.cli import main
from headstart.data import load_examples, read_table
from headstart.data.tags import is_valid_iob2
from tests_support import SHARED_DATA, requires_bundled, requires_shared

pytestmark = pytest.mark.realmodel

MRPC = SHARED_DATA / "mrpc"


@requires_shared("mrpc")
def test_mrpc_files_as_distributed():
    glue = load_examples(MRPC / "glue" / "train.tsv")
    assert len(glue) == 3668 and glue.is_pair and set(glue.labels) == {"0", "1"}
    assert glue.columns.text == "#1 String" and glue.columns.label == "Quality"
    quoted = [t for t in glue.texts + glue.pairs if t.startswith('"')]
    assert quoted, "sentences starting with a literal quote must keep it"
    original = read_table(MRPC / "msr_paraphrase_train.txt", format="tsv")  # CRLF + BOM
    assert len(original) == 4076 and original.columns[0] == "Quality"
    assert not any(s.endswith("\r") for s in original.data["#2 String"])


@requires_shared("sst2")
@requires_shared("imdb")
def test_sst2_and_imdb_files():
    assert len(load_examples(SHARED_DATA / "sst2" / "dev.tsv")) == 872
    imdb = load_examples(SHARED_DATA / "imdb" / "test.csv.gz")
    assert len(imdb) == 25000 and imdb.columns.text == "text" and set(imdb.labels) == {"0", "1"}


@pytest.fixture(scope="module")
def mrpc_tiny(tmp_path_factory):
    if not (MRPC / "glue").exists():
        pytest.skip(f"real data not present at {MRPC}")
    import pandas as pd

    out = tmp_path_factory.mktemp("real") / "mrpc-bert-tiny"
    train_rows = load_examples(MRPC / "glue" / "train.tsv").subset(range(600))
    frame = pd.DataFrame({"sentence1": train_rows.texts, "sentence2": train_rows.pairs, "label": train_rows.labels})
    cfg = {
        "model": {"name": "bert-tiny", "max_length": 128},
        "train": {"output_dir": str(out), "num_train_epochs": 2, "learning_rate": 1e-4, "disable_tqdm": True},
    }
    return train(cfg, train=frame, validation=str(MRPC / "glue" / "dev.tsv"))


@requires_bundled("bert-tiny")
def test_pipeline_and_headstart_agree_on_200_dev_pairs(mrpc_tiny, tmp_path):
    dev = load_examples(MRPC / "glue" / "dev.tsv").subset(range(200))
    ours = Predictor.load(mrpc_tiny.output_dir).predict(dev.inputs())
    pipe = pipeline("text-classification", model=str(mrpc_tiny.output_dir), device="cpu")
    theirs = pipe([{"text": a, "text_pair": b} for a, b in dev.inputs()], truncation=True, batch_size=16)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert np.allclose([p["score"] for p in ours], [p["score"] for p in theirs], atol=1e-4)
    # The CLI on the same file (other column names than training: detected again) agrees too.
    out = tmp_path / "preds.jsonl"
    assert (
        main(["predict", str(mrpc_tiny.output_dir), "--input", str(MRPC / "glue" / "dev.tsv"), "--output", str(out)])
        == 0
    )
    cli = [json.loads(line)["label"] for line in out.read_text().splitlines()[:200]]
    assert cli == [p["label"] for p in ours]


@requires_bundled("bert-tiny")
def test_evaluate_matches_training_report(mrpc_tiny):
    metrics = evaluate(mrpc_tiny.output_dir, MRPC / "glue" / "dev.tsv")
    assert metrics["n"] == 408
    assert metrics["f1"] == pytest.approx(mrpc_tiny.metrics["validation"]["f1"], abs=1e-6)


@requires_bundled("minilm")
def test_minilm_embeddings_rank_a_paraphrase_first():
    emb = Embedder("minilm")
    vecs = emb.encode(
        ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell."],
        pooling="mean",
        normalize=True,
    )
    assert vecs.shape == (3, 384)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


CONLL = SHARED_DATA / "conll2003"


@requires_shared("conll2003")
def test_conll_files_as_distributed():
    train_ex = read_token_file(CONLL / "eng.train")
    assert len(train_ex) == 14041 and train_ex.scheme == "iob2"
    assert {t for seq in train_ex.tags for t in seq} == {
        "O",
        "B-PER",
        "I-PER",
        "B-LOC",
        "I-LOC",
        "B-ORG",
        "I-ORG",
        "B-MISC",
        "I-MISC",
    }
    assert len(read_token_file(CONLL / "eng.testb")) == 3453


@requires_shared("conll2003")
@requires_bundled("bert-tiny")
@pytest.mark.slow
def test_conll_slice_softmax_agrees_with_pipeline_and_crf_stays_valid(tmp_path):
    train_ex = read_token_file(CONLL / "eng.train").subset(range(1500))
    test_ex = read_token_file(CONLL / "eng.testb").subset(range(100))
    results = {}
    for crf in (False, True):
        cfg = {
            "model": {"name": "bert-tiny", "max_length": 128},
            "task": {"type": "ner", "crf": crf},
            "train": {
                "output_dir": str(tmp_path / f"crf-{crf}"),
                "num_train_epochs": 2,
                "learning_rate": 1e-3,
                "eval_strategy": "no",
                "disable_tqdm": True,
            },
        }
        results[crf] = train(cfg, train=train_ex, validation=test_ex)
        assert results[crf].metrics["validation"]["f1"] > 0.3, "a 4M-parameter model learns some entities"
    texts = [" ".join(words) for words in test_ex.words]
    softmax = Predictor.load(results[False].output_dir)
    ours = softmax.predict(texts, decode="argmax")  # the pipeline's own decoding
    first = pipeline("token-classification", model=str(results[False].output_dir), aggregation_strategy="first")

    def spans(entities):
        return [(e["entity_group"], int(e["start"]), int(e["end"])) for e in entities]

    assert [spans(e) for e in ours] == [spans(e) for e in first(texts)]
    # the default (constrained Viterbi) changes only sentences whose argmax tags are invalid
    argmax, _ = softmax.predict_tags(test_ex.words, repair_tags=False, decode="argmax")
    viterbi, _ = softmax.predict_tags(test_ex.words, repair_tags=False)
    assert all(is_valid_iob2(v) for v in viterbi)
    assert all(v == a for v, a in zip(viterbi, argmax) if is_valid_iob2(a))
    raw, _ = Predictor.load(results[True].output_dir).predict_tags(test_ex.words, repair_tags=False)
    assert all(is_valid_iob2(tags) for tags in raw)
