"""ReadOptions: one declaration of the reader keywords, taken as an object or as keywords."""

import pytest

from headstart.data.examples import load_examples
from headstart.data.options import ReadOptions
from headstart.errors import ConfigError


def test_keywords_apply_over_an_options_object():
    base = ReadOptions(format="tsv", text_column="a")
    merged = ReadOptions.of(base, {"text_column": "b", "header": False})
    assert (merged.format, merged.text_column, merged.header) == ("tsv", "b", False)
    assert base.text_column == "a", "the object given is not changed"


def test_an_unknown_reader_keyword_is_a_config_error():
    with pytest.raises(ConfigError, match="reader keywords among .*found text_colum; did you mean 'text_column'"):
        ReadOptions.of(None, {"text_colum": "x"})


def test_load_examples_takes_either_form(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("review,stars\ngood,pos\nbad,neg\n", encoding="utf-8")
    by_object = load_examples(path, ReadOptions(text_column="review", label_column="stars"))
    by_keywords = load_examples(path, text_column="review", label_column="stars")
    assert by_object.texts == by_keywords.texts == ["good", "bad"]
    assert by_object.labels == by_keywords.labels
