import json

import pytest

from headstart.data.tokens import examples_from_spans, read_token_file, split_words
from headstart.errors import DataError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German\tJJ\tB-NP\tI-MISC

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_with_docstart_tabs_and_iob1(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(CONLL)
    ex = read_token_file(path)
    assert ex.words == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert ex.tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]
    assert ex.scheme == "iob1" and ex.locations == [f"{path}:3", f"{path}:7"]


def test_conll_columns_are_configurable(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("B-PER Ann\nO sings\n")
    ex = read_token_file(path, token_column=1, tag_column=0)
    assert ex.words == [["Ann", "sings"]] and ex.tags == [["B-PER", "O"]]


def test_conll_line_without_tag_names_the_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("Ann B-PER\nsings\n")
    with pytest.raises(DataError, match=r"bad.conll:2: expected a token and its tag"):
        read_token_file(path)
    with pytest.raises(DataError, match=r"bad.conll:1: expected a token \(column 0\) and a tag \(column 5\)"):
        read_token_file(path, tag_column=5)


def test_conll_empty(tmp_path):
    (tmp_path / "e.conll").write_text("-DOCSTART- O\n\n")
    with pytest.raises(DataError, match="found no tokens"):
        read_token_file(tmp_path / "e.conll")


def test_jsonl_tokens_and_tags(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"tokens": ["Ann", "sings"], "tags": ["S-PER", "O"]}) + "\n")
    ex = read_token_file(path)
    assert ex.tags == [["B-PER", "O"]] and ex.scheme == "bioes"
    path.write_text(json.dumps({"tokens": ["Ann", "sings"], "tags": ["B-PER"]}) + "\n")
    with pytest.raises(DataError, match=r"a.jsonl:1: expected as many tags as tokens \(2\); found 1 tags"):
        read_token_file(path)


def test_jsonl_text_and_spans_with_unicode_and_repeats(tmp_path):
    text = "Zoë met Zoë in Zürich — Zürich!"
    rows = [{"text": text, "entities": [[0, 3, "PER"], [8, 11, "PER"], {"start": 15, "end": 21, "label": "LOC"}]}]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    ex = read_token_file(path)
    assert ex.words[0] == ["Zoë", "met", "Zoë", "in", "Zürich", "—", "Zürich", "!"]
    assert ex.tags[0] == ["B-PER", "O", "B-PER", "O", "B-LOC", "O", "O", "O"]
    assert [text[s:e] for s, e in ex.offsets[0]] == ex.words[0]


@pytest.mark.parametrize(
    "entities, message",
    [
        ([[0, 40, "PER"]], "expected 0 <= start < end"),
        ([[0, 3, "PER"], [1, 4, "PER"]], "do not overlap"),
        ([[3, 4, "PER"]], "covers at least one word"),
        ([["a", 3, "PER"]], "entities like"),
    ],
)
def test_bad_spans(entities, message):
    with pytest.raises(DataError, match=message):
        examples_from_spans([{"text": "Ann sings", "entities": entities}])


def test_split_words_keeps_offsets():
    assert split_words("naïve café, 1996-08-22") == [
        ("naïve", 0, 5),
        ("café", 6, 10),
        (",", 10, 11),
        ("1996", 12, 16),
        ("-", 16, 17),
        ("08", 17, 19),
        ("-", 19, 20),
        ("22", 20, 22),
    ]


def test_conll_tokens_only_for_prediction(tmp_path):
    path = tmp_path / "new.conll"
    path.write_text("EU\nrejects\n\nPeter\n")
    ex = read_token_file(path, require_tags=False)
    assert ex.words == [["EU", "rejects"], ["Peter"]] and ex.tags is None
    path.write_text("EU B-ORG\nrejects\n")
    with pytest.raises(DataError, match="a tag on every line, or on none"):
        read_token_file(path, require_tags=False)


def test_conll_documents_number_the_docstart_sections(tmp_path):
    path = tmp_path / "docs.conll"
    path.write_text(CONLL + "\n-DOCSTART- -X- -X- O\n\nAnn NNP B-NP I-PER\n\nBob NNP B-NP I-PER\n")
    ex = read_token_file(path)
    assert ex.documents == [0, 0, 1, 1]
    assert ex.subset([1, 2]).documents == [0, 1]
    # a -DOCSTART- line right after a sentence (no blank line) still ends it
    path.write_text("Ann B-PER\n-DOCSTART- O\nBob B-PER\n")
    assert read_token_file(path).documents == [0, 1]
    path.write_text("Ann B-PER\n\nBob B-PER\n")
    assert read_token_file(path).documents == [0, 0], "a file without -DOCSTART- is one document"


def test_jsonl_document_key_groups_consecutive_rows(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"tokens": ["a"], "tags": ["O"], "document": d} for d in ("x", "x", "y", "x")]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert read_token_file(path).documents == [0, 0, 1, 2]
    path.write_text(json.dumps({"tokens": ["a"], "tags": ["O"]}))
    assert read_token_file(path).documents is None
