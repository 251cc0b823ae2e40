"""TokenPredictor: a saved NER directory -> entities with character offsets, or tags per word.

Example::

    predictor = Predictor.load("ner-model")          # a TokenPredictor for token-classification
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
from headstart.inference.predictor import Predictor
from headstart.tasks.token_classification import to_token_examples


class TokenPredictor(Predictor):
    def predict(self, inputs: Any, *, batch_size: int = 32, all_scores: bool = False) -> list[list[dict[str, Any]]]:
        """Entities for each text; for pre-split sentences (lists of words), a tag per word."""
        examples = to_token_examples(inputs)
        tags, scores = self.predict_tags(examples.words, batch_size=batch_size, documents=examples.documents)
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
        self,
        sentences: Sequence[Sequence[str]],
        *,
        batch_size: int = 32,
        repair_tags: bool = True,
        documents: Sequence[int] | None = None,
    ) -> tuple[list[list[str]], list[list[float]]]:
        """IOB2 tags and their probabilities per word, windows merged back per sentence.

        ``documents`` (a number per sentence) lets a model trained with ``task.context`` see the
        neighbouring sentences of each document, as it did in training.

        A softmax head can predict an invalid move (``O`` then ``I-PER``); such tags are repaired
        (``I-PER`` becomes ``B-PER``) unless ``repair_tags`` is false. A CRF head never needs it.
        """
        names = self.labels
        tags = [["O"] * len(words) for words in sentences]
        scores = [[0.0] * len(words) for words in sentences]
        if not sentences:
            return tags, scores
        raw = self.info.raw
        enc = encode_words(
            self.tokenizer,
            sentences,
            self.info.max_length,
            stride=int(raw.get("stride", 32)),
            documents=documents,
            context=int(raw.get("context", 0)),
        )
        accepted = set(inspect.signature(self.model.forward).parameters)
        order = np.argsort([-n for n in enc.lengths], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                features = [{k: v[i] for k, v in enc.features.items() if k != "word_mask"} for i in idx]
                batch = self.tokenizer.pad(features, return_tensors="pt")
                width = batch["input_ids"].shape[1]
                if "word_mask" in accepted:
                    batch["word_mask"] = torch.tensor(
                        [_pad(enc.features["word_mask"][i], width, self.tokenizer.padding_side) for i in idx]
                    )
                batch = {k: v.to(self.device) for k, v in batch.items() if k in accepted}
                out = self.model(**batch)
                probs = torch.softmax(out.logits.float(), dim=-1).cpu().numpy()  # [B, T, K]
                decoded = getattr(out, "decoded", None)
                decoded = decoded.cpu().numpy() if decoded is not None else probs.argmax(-1)
                for row, i in enumerate(idx):
                    window = enc.windows[i]
                    shift = width - len(window.words) if self.tokenizer.padding_side == "left" else 0
                    for p, (w, owned) in enumerate(zip(window.words, window.owned)):
                        if owned:
                            k = int(decoded[row, p + shift])
                            tags[window.sentence][w] = names[k]
                            scores[window.sentence][w] = float(probs[row, p + shift, k])
        return ([repair(t) for t in tags] if repair_tags else tags), scores


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
