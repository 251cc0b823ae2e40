import pytest

from headstart.data.columns import ColumnSpec, detect_columns
from headstart.errors import DataError


@pytest.mark.parametrize(
    "columns, expected",
    [
        (["id", "label", "rating", "text"], ColumnSpec("text", None, "label")),
        (["sentence", "label"], ColumnSpec("sentence", None, "label")),
        (["idx", "sentence1", "sentence2", "label"], ColumnSpec("sentence1", "sentence2", "label")),
        (["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], ColumnSpec("#1 String", "#2 String", "Quality")),
        (["question", "sentence", "label"], ColumnSpec("question", "sentence", "label")),
        (["Text", "Category", "movie_name"], ColumnSpec("Text", None, "Category")),
        (["premise", "hypothesis", "gold_label"], ColumnSpec("premise", "hypothesis", "gold_label")),
    ],
)
def test_detects_common_names(columns, expected):
    assert detect_columns(columns) == expected


def test_ambiguous_text_lists_the_columns():
    with pytest.raises(DataError, match=r"several candidates \['text', 'review'\].*--text-column"):
        detect_columns(["text", "review", "label"])


def test_missing_label_lists_the_columns():
    with pytest.raises(DataError, match=r"expected a label column.*found columns \['text', 'score'\]"):
        detect_columns(["text", "score"], source="f.csv")


def test_label_optional_for_prediction():
    assert detect_columns(["text"], need_label=False) == ColumnSpec("text", None, None)


def test_explicit_names_win_and_are_checked():
    assert detect_columns(["a", "b"], text="a", label="b") == ColumnSpec("a", None, "b")
    with pytest.raises(DataError, match=r"a column named 'c' \(--label-column\)"):
        detect_columns(["a", "b"], text="a", label="c")


def test_label_cannot_be_a_text_column():
    with pytest.raises(DataError, match="different from the text columns"):
        detect_columns(["text", "label"], text="text", label="text")
