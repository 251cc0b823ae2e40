from collections import Counter

import pandas as pd
import pytest

from headstart.config import DataConfig
from headstart.data.examples import load_examples, load_splits, stratified_split
from headstart.errors import DataError, LabelError


def test_in_memory_sources_agree():
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 0}]
    from_rows = load_examples(rows)
    from_frame = load_examples(pd.DataFrame(rows))
    from_dict = load_examples({"text": ["a", "b"], "label": [1, 0]})
    assert from_rows.texts == from_frame.texts == from_dict.texts == ["a", "b"]
    assert from_rows.labels == from_frame.labels == from_dict.labels == ["1", "0"]


def test_plain_lists_are_inputs_not_training_data():
    ex = load_examples([("a", "b"), ("c", "d")], need_label=False)
    assert ex.inputs() == [("a", "b"), ("c", "d")]
    with pytest.raises(LabelError, match="without labels"):
        load_examples(["a", "b"])


def test_missing_text_and_label_name_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\nok,1\n,0\n")
    ex = load_examples(path)  # an empty text is a text (issue: data checks warn about it)
    assert ex.texts == ["ok", ""]
    path.write_text("text,label\nok,1\nno label,\n")
    with pytest.raises(LabelError, match=r"t.csv:3: expected a label in column 'label'; found an empty value"):
        load_examples(path)
    with pytest.raises(DataError, match=r"input row 2: expected text in column 'text'; found a missing value"):
        load_examples([{"text": "a", "label": 1}, {"text": None, "label": 1}])


def test_unseen_validation_label_is_an_error(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\na,x\nb,y\n")
    (tmp_path / "dev.csv").write_text("text,label\nc,x\nd,z\n")
    cfg = DataConfig(train=str(tmp_path / "train.csv"), validation=str(tmp_path / "dev.csv"))
    with pytest.raises(LabelError, match=r"dev.csv:3: expected a label seen in training \(x, y\); found 'z'"):
        load_splits(cfg)


def test_validation_uses_training_columns(tmp_path):
    (tmp_path / "train.csv").write_text("review,sentiment,text\na,x,ignored\nb,y,ignored\n")
    (tmp_path / "dev.csv").write_text("sentiment,review\nx,c\n")
    cfg = DataConfig(train=str(tmp_path / "train.csv"), validation=str(tmp_path / "dev.csv"), text_column="review")
    bundle = load_splits(cfg)
    assert bundle.validation.texts == ["c"]


def test_single_label_training_data_is_refused():
    with pytest.raises(LabelError, match="at least two different labels"):
        load_splits(DataConfig(), train=[{"text": "a", "label": 1}, {"text": "b", "label": 1}])


def test_stratified_split_is_seeded_and_keeps_proportions():
    rows = [{"text": f"t{i}", "label": "a" if i % 4 else "b"} for i in range(200)]
    bundle = load_splits(DataConfig(validation_fraction=0.1), train=rows, seed=7)
    again = load_splits(DataConfig(validation_fraction=0.1), train=rows, seed=7)
    assert bundle.validation.texts == again.validation.texts
    assert Counter(bundle.validation.labels) == {"a": 15, "b": 5}
    assert not set(bundle.validation.texts) & set(bundle.train.texts)
    assert "stratified validation split of 20" in bundle.notes[0]


def test_test_fraction_holds_out_a_test_split():
    rows = [{"text": f"t{i}", "label": i % 2} for i in range(100)]
    bundle = load_splits(DataConfig(test_fraction=0.2), train=rows)
    assert len(bundle.test) == 20 and len(bundle.validation) == 8 and len(bundle.train) == 72


def test_split_too_small():
    ex = load_examples([{"text": "a", "label": 1}, {"text": "b", "label": 0}])
    with pytest.raises(DataError, match="enough training examples"):
        stratified_split(ex, 0.1, 0)


def test_hf_dataset_failure_is_a_clear_error():
    cfg = DataConfig(dataset_name="definitely/not-a-dataset-xyz")
    with pytest.raises(DataError, match="HF dataset 'definitely/not-a-dataset-xyz'.*export it to a local file"):
        load_splits(cfg)
