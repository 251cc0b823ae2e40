"""QA windows and span search: labels point at the answer's tokens, the search is exact."""

import itertools

import numpy as np
import pytest

from headstart.errors import ConfigError
from headstart.tasks.question_answering.encoding import NO_ANSWER, OUTSIDE, encode_questions, token_span
from headstart.tasks.question_answering.postprocess import best_spans

WORDS = "the film was good and the actor was great but the story was dull".split()


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def context_of(n):
    return " ".join(WORDS[i % len(WORDS)] for i in range(n))


def test_every_window_that_holds_the_answer_labels_its_tokens(tokenizer):
    context = context_of(120)
    start = context.index("actor", 300)
    answer = (start, start + len("actor was great"))
    w = encode_questions(tokenizer, ["who was great?"], [context], max_length=48, doc_stride=16, answers=[[answer]])
    assert len(w.owner) > 3 and w.n_windowed == 1 and set(w.owner) == {0}
    labelled = 0
    for i in range(len(w.owner)):
        s, e = w.features["start_positions"][i], w.features["end_positions"][i]
        if s == NO_ANSWER:
            assert e == NO_ANSWER
            continue
        labelled += 1
        assert (w.offsets[i][s][0], w.offsets[i][e][1]) == answer
        assert tokenizer.decode(w.features["input_ids"][i][s : e + 1]) == "actor was great"
    assert labelled >= 1 and w.n_answers_cut == 0
    assert all(len(ids) <= 48 for ids in w.features["input_ids"])
    # the windows overlap by doc_stride tokens and together cover the whole context
    covered = {span for spans in w.offsets for span in spans if span != OUTSIDE}
    assert min(s for s, _ in covered) == 0 and max(e for _, e in covered) == len(context)


def test_unanswerable_questions_point_at_position_zero(tokenizer):
    w = encode_questions(tokenizer, ["who?"], ["the film was good"], 32, 8, answers=[[]])
    assert w.features["start_positions"] == [0] and w.features["end_positions"] == [0]


def test_a_stride_that_leaves_no_room_is_refused(tokenizer):
    with pytest.raises(ConfigError, match="task.doc_stride below the context room"):
        encode_questions(tokenizer, ["who was great?"], [context_of(50)], max_length=24, doc_stride=20)


def test_long_questions_are_cut_to_a_quarter_of_the_window(tokenizer):
    w = encode_questions(tokenizer, [context_of(40) + "?"], [context_of(10)], max_length=32, doc_stride=4)
    assert w.n_questions_cut == 1 and len(w.owner) >= 1


def test_token_span_needs_the_whole_answer_inside():
    offsets = [OUTSIDE, (0, 3), (4, 8), (9, 12), OUTSIDE]
    assert token_span(offsets, 4, 12) == (2, 3)
    assert token_span(offsets, 3, 8) == (2, 2), "a leading space belongs to no token"
    assert token_span(offsets, 9, 14) is None


def brute_force(start, end, context, max_len):
    keep = context.copy()
    keep[0] = True
    ls = start - np.log(np.exp(start[keep]).sum())
    le = end - np.log(np.exp(end[keep]).sum())
    best = max(
        (ls[i] + le[j], i, j)
        for i, j in itertools.product(range(len(start)), repeat=2)
        if context[i] and context[j] and i <= j < i + max_len
    )
    return best


def test_the_vectorised_search_finds_the_best_span_of_all_windows():
    rng = np.random.default_rng(0)
    offsets, starts, ends, owner = [], [], [], []
    for w in range(12):
        n = int(rng.integers(6, 20))
        spans = [OUTSIDE, OUTSIDE] + [(10 * k, 10 * k + 5) for k in range(n - 3)] + [OUTSIDE]
        offsets.append(spans)
        starts.append(rng.normal(size=n) * 3)
        ends.append(rng.normal(size=n) * 3)
        owner.append(w // 3)
    best = best_spans(starts, ends, offsets, owner, n_questions=4, max_answer_length=4)
    for q in range(4):
        candidates = []
        for w in (i for i in range(12) if owner[i] == q):
            context = np.array([s != OUTSIDE for s in offsets[w]])
            score, i, j = brute_force(starts[w], ends[w], context, 4)
            candidates.append((score, offsets[w][i][0], offsets[w][j][1]))
        score, s, e = max(candidates)
        assert (best.starts[q], best.ends[q]) == (s, e)
        assert best.scores[q] == pytest.approx(np.exp(score))


def test_no_answer_wins_past_the_threshold():
    offsets = [[OUTSIDE, (0, 3), (4, 7)]]
    best = best_spans([np.array([5.0, 0.0, 0.0])], [np.array([5.0, 0.0, 0.0])], offsets, [0], 1)
    assert best.null_gap[0] > 0
    assert best.answers(["abc def"])[0]["answer"] in ("abc", "def", "abc def"), "v1: always a span"
    assert best.answers(["abc def"], null_threshold=0.0)[0] == {
        "answer": "",
        "start": None,
        "end": None,
        "score": pytest.approx(float(best.null_scores[0]), abs=1e-6),
    }
