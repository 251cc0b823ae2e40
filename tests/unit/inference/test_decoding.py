"""Constrained Viterbi for a softmax NER head, against brute force over every tag sequence."""

import itertools

import numpy as np
import pytest

from headstart.data.tags import is_valid_iob2, repair
from headstart.errors import ConfigError
from headstart.tasks.token_classification.decoding import TagDecoder

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _random_log_probs(rng: np.random.Generator, steps: int) -> np.ndarray:
    logits = rng.normal(scale=2.0, size=(steps, len(NAMES)))
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def _brute_force_best_valid(log_probs: np.ndarray) -> list[str]:
    best, best_score = None, -np.inf
    for path in itertools.product(range(len(NAMES)), repeat=len(log_probs)):
        tags = [NAMES[k] for k in path]
        score = sum(log_probs[t, k] for t, k in enumerate(path))
        if is_valid_iob2(tags) and score > best_score:
            best, best_score = tags, score
    return best


@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_viterbi_finds_the_most_probable_valid_sequence(steps):
    rng = np.random.default_rng(steps)
    decoder = TagDecoder(NAMES, "viterbi")
    for _ in range(20):
        lp = _random_log_probs(rng, steps)
        assert decoder.decode(lp) == _brute_force_best_valid(lp)


def test_viterbi_keeps_a_valid_argmax_and_always_returns_valid_tags():
    rng = np.random.default_rng(0)
    decoder = TagDecoder(NAMES, "viterbi")
    changed = 0
    for _ in range(300):
        lp = _random_log_probs(rng, int(rng.integers(1, 12)))
        argmax = [NAMES[k] for k in lp.argmax(-1)]
        tags = decoder.decode(lp)
        assert is_valid_iob2(tags)
        if is_valid_iob2(argmax):
            assert tags == argmax
        else:
            changed += 1
    assert changed > 50, "the random cases must exercise invalid argmax sequences"


def test_argmax_is_each_words_best_tag_repaired():
    rng = np.random.default_rng(1)
    decoder = TagDecoder(NAMES, "argmax")
    for _ in range(50):
        lp = _random_log_probs(rng, 6)
        assert decoder.decode(lp) == repair([NAMES[k] for k in lp.argmax(-1)])
    assert decoder.decode(np.zeros((0, len(NAMES)))) == []


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="viterbi, argmax"):
        TagDecoder(NAMES, "beam")
