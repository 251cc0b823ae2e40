"""Predictors for multi-label and regression models: the same API as ``Predictor``.

Example::

    Predictor.load("topics-model").predict(["stocks fell as rates rose"])
    # -> [{'label': 'business', 'score': 0.93, 'labels': ['business', 'politics']}]
    Predictor.load("rating-model").predict(["a decent film"])
    # -> [{'label': 'rating', 'score': 3.41}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from headstart.inference.predictor import Predictor


class MultiLabelPredictor(Predictor):
    @property
    def threshold(self) -> float:
        return float(self.info.raw.get("threshold", 0.5))

    def probabilities(self, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
        """One sigmoid score per label [n_inputs, n_labels] (they do not sum to 1)."""
        logits = self.logits(inputs, batch_size=batch_size)
        return 1.0 / (1.0 + np.exp(-logits))

    def predict(
        self, inputs: str | tuple[str, str] | Sequence[Any], *, batch_size: int = 32, all_scores: bool = False
    ) -> list[dict[str, Any]]:
        """``labels``: every label scoring at least the saved threshold (possibly none);
        ``label``/``score``: the best-scoring label; ``scores`` for all with ``all_scores``."""
        probs = self.probabilities(inputs, batch_size=batch_size)
        names = self.labels
        out = []
        for row in probs:
            best = int(row.argmax())
            item: dict[str, Any] = {
                "label": names[best],
                "score": float(row[best]),
                "labels": [names[i] for i in np.flatnonzero(row >= self.threshold)],
            }
            if all_scores:
                item["scores"] = {name: float(p) for name, p in zip(names, row)}
            out.append(item)
        return out


class RegressionPredictor(Predictor):
    def probabilities(self, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
        """The predicted numbers [n_inputs, 1] (a regression head has no probabilities)."""
        return self.logits(inputs, batch_size=batch_size)

    def predict(
        self, inputs: str | tuple[str, str] | Sequence[Any], *, batch_size: int = 32, all_scores: bool = False
    ) -> list[dict[str, Any]]:
        """``{"label": target name, "score": the predicted number}`` per input."""
        values = self.logits(inputs, batch_size=batch_size).reshape(-1)
        name = self.labels[0]
        return [{"label": name, "score": float(v)} for v in values]
