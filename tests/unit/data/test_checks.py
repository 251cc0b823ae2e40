"""Data checks: each problem found, located, and silent on clean data."""

from headstart.data.checks import CheckSplit, check_data, normalize


def _split(texts, labels=None, prefix="train.csv", lengths=None, label_counts=None):
    return CheckSplit(
        list(texts),
        None if labels is None else list(labels),
        [f"{prefix}:{i + 2}" for i in range(len(texts))],
        label_counts=label_counts,
        lengths=lengths,
    )


def _by_check(checks):
    return {(f.check, f.split): f for f in checks.findings}


def test_clean_data_has_no_warnings():
    train = _split(["a fine film", "a dull film", "great acting", "poor acting"], ["pos", "neg", "pos", "neg"])
    dev = _split(["lovely score", "awful score"], ["pos", "neg"], prefix="dev.csv")
    assert check_data({"train": train, "validation": dev}).warnings() == []


def test_empty_duplicates_and_near_duplicates_are_located():
    train = _split(["Great film!", "great film", "Great film!", "  ", "other"], ["pos"] * 4 + ["neg"])
    found = _by_check(check_data({"train": train}))
    assert found["empty", "train"].locations == ["train.csv:5"]
    assert found["duplicates", "train"].count == 1 and found["duplicates", "train"].locations == ["train.csv:4"]
    assert found["near_duplicates", "train"].locations == ["train.csv:3"]


def test_leakage_names_both_sides():
    train = _split(["the plot was thin", "a joy to watch"], ["neg", "pos"])
    test = _split(["A joy to watch.", "something new"], ["pos", "neg"], prefix="test.csv")
    leak = _by_check(check_data({"train": train, "test": test}))["leakage", "test"]
    assert leak.count == 1 and leak.locations == ["test.csv:2 = train.csv:3"]
    assert leak.message.startswith("1 text (50.0%) also in train: their scores measure memory")


def test_conflicting_labels_in_train():
    train = _split(["so so", "So so.", "fine"], ["pos", "neg", "pos"])
    conflict = _by_check(check_data({"train": train}))["conflicting_labels", "train"]
    assert conflict.count == 1 and conflict.locations == ["train.csv:2 vs train.csv:3"]


def test_skew_and_a_shifted_validation_distribution():
    train = _split([f"t{i}" for i in range(110)], ["a"] * 100 + ["b"] * 10)
    dev = _split([f"d{i}" for i in range(30)], ["a"] * 15 + ["b"] * 15, prefix="dev.csv")
    checks = check_data({"train": train, "validation": dev})
    found = _by_check(checks)
    assert "'a' 100 vs 'b' 10 (10x)" in found["imbalance", "train"].message
    assert "by 0.41" in found["distribution_shift", "validation"].message
    assert checks.label_distribution == {"train": {"a": 100, "b": 10}, "validation": {"a": 15, "b": 15}}
    small = check_data({"train": train, "validation": _split(["x", "y"], ["a", "b"], prefix="dev.csv")})
    assert ("distribution_shift", "validation") not in _by_check(small), "too few items to call a shift"


def test_length_distribution_and_truncated_share():
    train = _split([f"t{i}" for i in range(10)], ["a", "b"] * 5, lengths=[10] * 8 + [300, 600])
    checks = check_data({"train": train}, max_length=256)
    stats = checks.lengths["train"]
    assert stats["truncated"] == 2 and stats["truncated_share"] == 0.2 and stats["max"] == 600
    trunc = _by_check(checks)["truncation", "train"]
    assert trunc.severity == "info" and "their ends are cut off" in trunc.message
    windowed = check_data({"train": train}, max_length=256, long_inputs="windowed")
    assert "overlapping windows" in _by_check(windowed)["truncation", "train"].message


def test_normalize_ignores_case_accents_punctuation_and_spacing():
    assert normalize("  Café,   CRÈME!") == normalize("cafe creme") == "cafe creme"
