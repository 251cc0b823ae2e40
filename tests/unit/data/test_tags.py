import random

import pytest

from headstart.data.tags import detect_scheme, entities, from_iob2, is_valid_iob2, repair, to_iob2
from headstart.tasks.token_classification.metrics import entity_metrics

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
IOB1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]
BIOES = ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"]


@pytest.mark.parametrize("tags, scheme", [(IOB2, "iob2"), (IOB1, "iob1"), (BIOES, "bioes")])
def test_each_scheme_is_detected_and_converted(tags, scheme):
    assert detect_scheme([tags]) == scheme
    assert to_iob2(tags) == IOB2
    assert from_iob2(IOB2, scheme) == tags


def test_bioes_l_u_spelling():
    assert to_iob2(["U-PER", "B-LOC", "L-LOC"]) == ["B-PER", "B-LOC", "I-LOC"]


def test_repair_makes_any_sequence_valid():
    rng = random.Random(0)
    pool = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for _ in range(500):
        seq = [rng.choice(pool) for _ in range(rng.randint(0, 8))]
        fixed = repair(seq)
        assert is_valid_iob2(fixed)
        assert entities(fixed) == entities(seq), "repair keeps the lenient reading of the entities"


def test_default_and_strict_entities():
    tags = ["I-PER", "I-PER", "O", "B-LOC", "I-ORG"]
    assert entities(tags) == [("PER", 0, 2), ("LOC", 3, 4), ("ORG", 4, 5)]
    assert entities(tags, strict=True) == [("LOC", 3, 4)]


def test_metrics_match_seqeval_in_both_modes():
    seqeval = pytest.importorskip("seqeval.metrics")
    from seqeval.scheme import IOB2 as SCHEME

    rng = random.Random(1)
    pool = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC"]
    truth = [[rng.choice(pool) for _ in range(rng.randint(1, 15))] for _ in range(400)]
    guess = [[rng.choice(pool) if rng.random() < 0.3 else t for t in seq] for seq in truth]
    ours = entity_metrics(truth, guess)
    report = seqeval.classification_report(truth, guess, output_dict=True)
    assert ours["f1"] == pytest.approx(seqeval.f1_score(truth, guess))
    assert ours["precision"] == pytest.approx(seqeval.precision_score(truth, guess))
    assert ours["f1_macro"] == pytest.approx(report["macro avg"]["f1-score"])
    assert ours["per_type"]["PER"]["support"] == report["PER"]["support"]
    strict = entity_metrics(truth, guess, strict=True)
    assert strict["f1"] == pytest.approx(seqeval.f1_score(truth, guess, mode="strict", scheme=SCHEME))
