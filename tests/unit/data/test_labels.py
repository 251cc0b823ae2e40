from headstart.data.labels import LabelSet, label_key


def test_string_labels_sorted_independently_of_row_order():
    a = LabelSet.from_values(["rotten", "fresh", "fresh"])
    b = LabelSet.from_values(["fresh", "rotten"])
    assert a == b and a.label2id == {"fresh": 0, "rotten": 1} and a.id2label == {0: "fresh", 1: "rotten"}


def test_integer_labels_sorted_numerically_whatever_their_type():
    assert LabelSet.from_values(["10", 9, "2", 2.0, " 9 "]).names == ["2", "9", "10"]


def test_mixed_labels_become_strings():
    assert LabelSet.from_values([1, "spam"]).names == ["1", "spam"]


def test_keys_and_missing_values():
    assert label_key(1.0) == label_key("1") == label_key(True) == "1"
    assert label_key("") is None and label_key(float("nan")) is None and label_key(" a ") == "a"
    assert LabelSet(["a", "b"]).distribution(["a", "a", "c"]) == {"a": 2, "b": 0}
