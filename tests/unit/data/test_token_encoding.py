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


def test_context_adds_neighbouring_words_of_the_same_document_only(tokenizer):
    # one sub-token per word except "xyzzy" (five): context is whole words within the budget
    sentences = [["great", "film"], ["xyzzy", "plot"], ["and", "great"], ["film", "plot"]]
    tags = [[1, 2], [3, 4], [5, 6], [7, 8]]
    plain = encode_words(tokenizer, sentences, max_length=32, tag_ids=tags)
    enc = encode_words(tokenizer, sentences, max_length=32, tag_ids=tags, documents=[0, 0, 0, 1], context=3)
    tokens = [tokenizer.convert_ids_to_tokens(f) for f in enc.features["input_ids"]]
    # sentence 0: "xyzzy" does not fit in 3 sub-tokens, so no right context (and none to the left)
    assert tokens[0] == ["[CLS]", "great", "film", "[SEP]"]
    # sentence 1: both neighbours; the sentence after them is another document
    xyzzy = tokenizer.tokenize("xyzzy")
    assert tokens[1] == ["[CLS]", "great", "film", *xyzzy, "plot", "and", "great", "[SEP]"]
    assert enc.windows[1].words == [None, None, None] + [0] * len(xyzzy) + [1, None, None, None], "context: no word"
    # sentence 2: "plot" fits to the left, "xyzzy" before it does not; nothing of document 1 to the right
    assert tokens[2] == ["[CLS]", "plot", "and", "great", "[SEP]"]
    assert enc.features["input_ids"][3] == plain.features["input_ids"][3], "alone in its document"
    assert enc.n_with_context == 2
    # labels and ownership only on each sentence's own words
    for i in range(4):
        assert [x for x in enc.features["labels"][i] if x != IGNORE] == tags[i]
        assert sum(enc.features["word_mask"][i]) == len(sentences[i])


def test_context_never_exceeds_max_length_and_skips_sentences_that_fill_it(tokenizer):
    sentences = [["great", "xyzzy", "film"] * 2, ["xyzzy"] * 6, ["plot"]]
    enc = encode_words(tokenizer, sentences, max_length=16, documents=[0, 0, 0], context=64, stride=2)
    assert all(n <= 16 for n in enc.lengths)
    assert enc.n_windowed == 1, "sentence 1 (32 sub-tokens) is windowed, without context"
    owned = sorted((win.sentence, w) for win in enc.windows for w, o in zip(win.words, win.owned) if o)
    assert owned == [(i, w) for i, s in enumerate(sentences) for w in range(len(s))]
