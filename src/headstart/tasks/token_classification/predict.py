"""Prediction of a saved NER directory: entities with character offsets, or tags per word.

Example::

    predictor = Predictor.load("ner-model")
    predictor.predict("Ann moved to Paris.")
    # -> [[{'entity_group': 'PER', 'word': 'Ann', 'start': 0, 'end': 3, 'score': 0.99},
    #      {'entity_group': 'LOC', 'word': 'Paris', 'start': 13, 'end': 18, 'score': 0.98}]]
    predictor.predict([["Ann", "moved", "to", "Paris", "."]])
    # -> [[{'word': 'Ann', 'tag': 'B-PER', 'score': 0.99}, ...]]
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from headstart.data.tags import entities, repair
from headstart.data.token_encoding import encode_words
from headstart.tasks.common.batching import sorted_by_length
from headstart.tasks.token_classification.decoding import TagDecoder
from headstart.tasks.token_classification.examples import to_token_examples


def predict(
    run: Any, inputs: Any, *, batch_size: int = 32, all_scores: bool = False, decode: str | None = None
) -> list[list[dict[str, Any]]]:
    """Entities for each text; for pre-split sentences (lists of words), a tag per word.

    ``decode`` overrides the saved decoding of a softmax head (see ``predict_tags``).
    """
    examples = to_token_examples(inputs)
    tags, scores = predict_tags(run, examples.words, batch_size=batch_size, documents=examples.documents, decode=decode)
    if examples.texts is None:
        return [
            [{"word": w, "tag": t, "score": s} for w, t, s in zip(words, seq, sc)]
            for words, seq, sc in zip(examples.words, tags, scores)
        ]
    return [
        _entities(text, offs, seq, sc)
        for text, offs, seq, sc in zip(examples.texts, examples.offsets or [], tags, scores)
    ]


def predict_tags(
    run: Any,
    sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 32,
    repair_tags: bool = True,
    documents: Sequence[int] | None = None,
    decode: str | None = None,
) -> tuple[list[list[str]], list[list[float]]]:
    """IOB2 tags and their probabilities per word, windows merged back per sentence.

    ``documents`` (a number per sentence) lets a model trained with ``task.context`` see the
    neighbouring sentences of each document, as it did in training.

    A softmax head's tags come from ``decode`` (default: the model's saved ``task.decode``):
    ``"viterbi"``, the most probable valid IOB2 sequence, or ``"argmax"``, each word's best tag
    as ``transformers.pipeline`` takes it, with invalid moves (``O`` then ``I-PER``) repaired
    (``I-PER`` becomes ``B-PER``) unless ``repair_tags`` is false. A CRF head decodes with its
    own learned transitions and never needs either.
    """
    names = list(run.info.labels)
    tags = [["O"] * len(words) for words in sentences]
    scores = [[0.0] * len(words) for words in sentences]
    if not sentences:
        return tags, scores
    # Saved before task.decode existed -> argmax (the settings' default), as those models were scored.
    decoder = TagDecoder(names, decode or run.info.settings.decode)
    log_probs, seen, crf_tags = word_log_probs(run, sentences, batch_size=batch_size, documents=documents)
    crf = crf_tags is not None
    if crf:
        tags = crf_tags
    index = {name: k for k, name in enumerate(names)}
    for s, lp in enumerate(log_probs):
        if not crf:
            if decoder.method == "argmax" and not repair_tags:
                tags[s] = [names[int(k)] for k in lp.argmax(-1)] if len(lp) else []
            else:
                tags[s] = decoder.decode(lp)
        scores[s] = [
            float(np.exp(lp[w, index[t]])) if seen[s][w] and t in index else 0.0 for w, t in enumerate(tags[s])
        ]
    return ([repair(t) for t in tags] if repair_tags else tags), scores


def word_log_probs(
    run: Any, sentences: Sequence[Sequence[str]], *, batch_size: int = 32, documents: Sequence[int] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], list[list[str]] | None]:
    """Each word's log-probabilities over the model's tags ([words, K] per sentence, from its first
    sub-token in the window that owns it; "O" for a word with none), which words had a sub-token,
    and a CRF head's decoded tags (None for a softmax head)."""
    names = list(run.info.labels)
    settings = run.info.settings
    log_probs = [np.tile(_only(names, "O"), (len(words), 1)) for words in sentences]
    seen = [np.zeros(len(words), dtype=bool) for words in sentences]
    crf_tags: list[list[str]] | None = None
    enc = encode_words(
        run.tokenizer,
        sentences,
        run.info.max_length,
        stride=int(settings.stride),
        documents=documents,
        context=int(settings.context),
    )
    accepted = set(inspect.signature(run.model.forward).parameters)
    order = sorted_by_length(enc.lengths)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            features = [{k: v[i] for k, v in enc.features.items() if k != "word_mask"} for i in idx]
            batch = run.tokenizer.pad(features, return_tensors="pt")
            width = batch["input_ids"].shape[1]
            if "word_mask" in accepted:
                batch["word_mask"] = torch.tensor(
                    [_pad(enc.features["word_mask"][i], width, run.tokenizer.padding_side) for i in idx]
                )
            batch = {k: v.to(run.device) for k, v in batch.items() if k in accepted}
            out = run.forward(batch)
            logp = torch.log_softmax(out.logits.float(), dim=-1).cpu().numpy()  # [B, T, K]
            decoded = getattr(out, "decoded", None)
            if decoded is not None and crf_tags is None:
                crf_tags = [["O"] * len(words) for words in sentences]
            decoded = decoded.cpu().numpy() if decoded is not None else None
            for row, i in enumerate(idx):
                window = enc.windows[i]
                shift = width - len(window.words) if run.tokenizer.padding_side == "left" else 0
                for p, (w, owned) in enumerate(zip(window.words, window.owned)):
                    if owned:
                        log_probs[window.sentence][w] = logp[row, p + shift]
                        seen[window.sentence][w] = True
                        if crf_tags is not None:
                            crf_tags[window.sentence][w] = names[int(decoded[row, p + shift])]
    return log_probs, seen, crf_tags


def _only(names: Sequence[str], tag: str) -> np.ndarray:
    """Log-probabilities that put all mass on ``tag`` (or uniform when the label set lacks it)."""
    row = np.full(len(names), -1e9 if tag in names else 0.0)
    if tag in names:
        row[list(names).index(tag)] = 0.0
    return row


def _pad(values: list[int], width: int, side: str) -> list[int]:
    fill = [0] * (width - len(values))
    return fill + values if side == "left" else values + fill


def _entities(text: str, offsets: list[tuple[int, int]], tags: list[str], scores: list[float]) -> list[dict]:
    out = []
    for etype, s, e in entities(tags):
        start, end = offsets[s][0], offsets[e - 1][1]
        out.append(
            {
                "entity_group": etype,
                "word": text[start:end],
                "start": start,
                "end": end,
                "score": float(np.mean(scores[s:e])),
            }
        )
    return out
