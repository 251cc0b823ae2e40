import pytest
from transformers import AutoTokenizer

from headstart.data.token_encoding import IGNORE, encode_words


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_first_subtoken_carries_the_tag(tokenizer):
    # "xyzzy" is not in the tiny vocabulary: it splits into five sub-tokens.
    enc = encode_words(tokenizer, [["great", "xyzzy", "film"]], max_length=32, tag_ids=[[1, 2, 3]])
    w = enc.windows[0]
    assert w.words == [None, 0, 1, 1, 1, 1, 1, 2, None]
    assert enc.features["labels"][0] == [IGNORE, 1, 2, IGNORE, IGNORE, IGNORE, IGNORE, 3, IGNORE]
    assert enc.features["word_mask"][0] == [0, 1, 1, 0, 0, 0, 0, 1, 0]


def test_label_all_tokens_turns_b_into_i(tokenizer):
    enc = encode_words(tokenizer, [["xyzzy"]], max_length=32, tag_ids=[[1]], label_all_tokens=True, b_to_i={1: 2})
    assert enc.features["labels"][0] == [IGNORE, 1, 2, 2, 2, 2, IGNORE]


def test_long_sentence_windows_own_every_word_once(tokenizer):
    words = ["great", "xyzzy", "film", "and", "plot"] * 12  # 108 sub-tokens
    tags = list(range(len(words)))
    enc = encode_words(tokenizer, [words, ["film"]], max_length=24, tag_ids=[tags, [0]], stride=6)
    assert enc.n_windowed == 1 and len(enc.windows) > 4
    assert all(n <= 24 for n in enc.lengths)
    owned = [w for win in enc.windows if win.sentence == 0 for w, o in zip(win.words, win.owned) if o]
    assert sorted(owned) == list(range(len(words))), "each word owned by exactly one window"
    labels = [
        lab
        for feats, win in zip(enc.features["labels"], enc.windows)
        if win.sentence == 0
        for lab in feats
        if lab != IGNORE
    ]
    assert sorted(labels) == tags
    consecutive = [w for w in enc.windows if w.sentence == 0]
    for a, b in zip(consecutive, consecutive[1:]):
        assert max(x for x in a.words if x is not None) >= min(x for x in b.words if x is not None), "windows overlap"


def test_word_without_subtokens_is_reported(tokenizer):
    enc = encode_words(tokenizer, [["great", "\u200b", "film"]], max_length=16, tag_ids=[[1, 2, 3]])
    assert enc.unaligned == [(0, 1)]
