"""Question-answering data: SQuAD JSON, HF's flat rows, csv answers, repairs and refusals."""

import json

import pandas as pd
import pytest

from headstart.data.options import ReadOptions
from headstart.errors import DataError
from headstart.tasks.question_answering.examples import Answer, qa_from_rows, read_qa
from tests_support import requires_shared

CONTEXT = "Denver Broncos beat the Carolina Panthers. The Broncos won in Santa Clara."
SQUAD = {
    "version": "2.0",
    "data": [
        {
            "title": "Super_Bowl_50",
            "paragraphs": [
                {
                    "context": CONTEXT,
                    "qas": [
                        {"id": "a", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 0}]},
                        {"id": "b", "question": "Where?", "answers": [{"text": "Santa Clara", "answer_start": 3}]},
                        {"id": "c", "question": "Who sang?", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        }
    ],
}


def test_squad_json_as_distributed(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(SQUAD))
    ex = read_qa(path)
    assert ex.ids == ["a", "b", "c"] and ex.questions == ["Who won?", "Where?", "Who sang?"]
    assert ex.answers == [[Answer("Denver Broncos", 0)], [Answer("Santa Clara", 62)], []]
    assert ex.has_unanswerable and ex.golds()["c"] == []
    assert ex.locations[1] == f"{path} record 1 (Super_Bowl_50) paragraph 1 question 2"
    (repair,) = ex.repairs
    assert (repair.given, repair.used, repair.occurrences) == (3, 62, 1)
    assert "answer_start 3 -> 62 (the only occurrence" in repair.line()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_flat_rows_as_hf_datasets_writes_them(tmp_path, suffix):
    rows = [
        {
            "id": "x",
            "question": "Who won?",
            "context": CONTEXT,
            "answers": {"text": ["Denver Broncos"], "answer_start": [0]},
        },
        {"id": "y", "question": "Who sang?", "context": CONTEXT, "answers": {"text": [], "answer_start": []}},
    ]
    path = tmp_path / f"f{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pd.DataFrame(rows).to_parquet(path)
    ex = read_qa(path)
    assert ex.ids == ["x", "y"] and ex.answers == [[Answer("Denver Broncos", 0)], []]


def test_csv_answers_found_when_unambiguous_and_refused_when_not(tmp_path):
    path = tmp_path / "qa.csv"
    pd.DataFrame({"question": ["Who lost?"], "context": [CONTEXT], "answer": ["Carolina Panthers"]}).to_csv(
        path, index=False
    )
    ex = read_qa(path)
    assert ex.answers == [[Answer("Carolina Panthers", 24)]] and ex.repairs == []
    pd.DataFrame({"question": ["Who?"], "context": [CONTEXT], "answer": ["Broncos"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"qa.csv:2: expected an answer_start.*'Broncos' 2 times; add an answer_start"):
        read_qa(path)
    pd.DataFrame({"question": ["Who?"], "context": [CONTEXT], "answer": ["Broncos"], "answer_start": [50]}).to_csv(
        path, index=False
    )
    ex = read_qa(path)
    assert ex.answers == [[Answer("Broncos", 47)]] and "the nearest of 2 occurrences" in ex.repairs[0].line()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"context": CONTEXT, "answer": "x"}, r"expected a question column \(named question or query\)"),
        ({"question": "Who?", "answer": "x"}, "expected a context column"),
        ({"question": "Who?", "context": CONTEXT, "answer": "Dallas"}, "'Dallas' nowhere in the context"),
        ({"question": None, "context": CONTEXT, "answer": "Denver"}, "text under 'question'; found a missing value"),
        ({"question": "Who?", "context": CONTEXT, "answers": 3}, "found 3"),
        ({"question": "Who?", "context": CONTEXT, "answer": "Denver", "answer_start": 1.5}, "a whole number"),
    ],
)
def test_bad_rows_name_the_row_and_the_fix(row, message):
    with pytest.raises(DataError, match=message):
        qa_from_rows([row])


def test_unlabeled_rows_for_prediction_and_answers_required_for_training():
    rows = [{"question": "Who won?", "context": CONTEXT}]
    assert qa_from_rows(rows, need_answers=False).answers is None
    with pytest.raises(DataError, match='expected an "answers"'):
        qa_from_rows(rows)


def test_subset_keeps_every_field_aligned(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(SQUAD))
    part = read_qa(path).subset([2, 1])
    assert part.ids == ["c", "b"] and part.answers == [[], [Answer("Santa Clara", 62)]] and len(part.repairs) == 1


@requires_shared("squad", "dev-v1.1.json")
def test_the_official_dev_file_reads_without_repairs():
    from tests_support import SHARED_DATA

    ex = read_qa(SHARED_DATA / "squad" / "dev-v1.1.json", ReadOptions())
    assert len(ex) == 10570 and sum(len(a) for a in ex.answers) == 34726 and not ex.repairs


def test_a_start_that_nothing_can_check_is_flagged_not_repaired():
    row = {"question": "Who?", "context": CONTEXT, "answers": {"text": ["Broncos"], "answer_start": [47]}}
    ex = qa_from_rows([row, {**row, "answers": {"text": ["Carolina"], "answer_start": [24]}}])
    assert ex.answers[0] == [Answer("Broncos", 47)] and not ex.repairs
    assert ex.ambiguous == ["input row 1"], "'Broncos' is in the context twice; 'Carolina' once"
