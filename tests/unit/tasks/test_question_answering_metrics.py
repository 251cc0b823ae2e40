"""SQuAD EM/F1 against the official scripts' definitions (and the v1.1 script itself on the dev set)."""

import json
import random
import subprocess
import sys

import pytest

from headstart.tasks.question_answering.metrics import f1, normalize_answer, question_scores, squad_scores
from tests_support import SHARED_DATA, requires_shared


def test_normalisation_and_scores_by_hand():
    assert normalize_answer("The  Denver, Broncos!") == "denver broncos"
    assert f1("Denver Broncos won", "the Denver Broncos") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert question_scores(["Broncos", "Denver Broncos"], "denver broncos") == (1.0, 1.0)
    assert question_scores([], "") == (1.0, 1.0), "no answer, none predicted"
    assert question_scores([], "Denver") == (0.0, 0.0)
    scores = squad_scores({"a": ["Denver Broncos"], "b": [], "c": ["Santa Clara"]}, {"a": "Broncos", "b": ""})
    assert scores["exact_match"] == pytest.approx(100 / 3) and scores["f1"] == pytest.approx(100 * (2 / 3 + 1) / 3)
    assert (scores["HasAns_total"], scores["NoAns_total"], scores["NoAns_f1"]) == (2.0, 1.0, 100.0)
    assert scores["HasAns_f1"] == pytest.approx(100 * (2 / 3) / 2)


@requires_shared("squad", "evaluate-v1.1.py")
def test_the_same_numbers_as_the_official_v1_1_script(tmp_path):
    """Dev questions with perturbed answers (exact, cut, padded, wrong, missing), scored both ways."""
    dev = json.loads((SHARED_DATA / "squad" / "dev-v1.1.json").read_text())
    rng = random.Random(0)
    golds, predictions = {}, {}
    for article in dev["data"][:6]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds[qa["id"]] = [a["text"] for a in qa["answers"]]
                words = qa["answers"][0]["text"].split()
                kind = rng.randrange(5)
                if kind == 4:
                    continue  # no prediction: the script counts it wrong
                predictions[qa["id"]] = [
                    " ".join(words),
                    " ".join(words[: max(1, len(words) // 2)]),
                    "the " + " ".join(words) + " in " + paragraph["context"].split()[0],
                    paragraph["context"][:30],
                ][kind]
    subset = {"version": "1.1", "data": dev["data"][:6]}
    (tmp_path / "dev.json").write_text(json.dumps(subset))
    (tmp_path / "pred.json").write_text(json.dumps(predictions))
    script = SHARED_DATA / "squad" / "evaluate-v1.1.py"
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "dev.json"), str(tmp_path / "pred.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    official = json.loads(done.stdout.strip().splitlines()[-1])
    ours = squad_scores(golds, predictions)
    assert len(golds) > 1000
    assert ours["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert ours["f1"] == pytest.approx(official["f1"], abs=1e-9)
