"""Class weights for the loss, from ``task.class_weights``: "auto" or one weight per label.

"auto" is inverse frequency in the training data, scaled so that the weights average 1 over the
examples (sklearn's "balanced": n / (classes x count)); for multi-label, each label's positives
are weighted by negatives / positives (BCE's ``pos_weight``). Explicit weights are a mapping or
"label=weight,label=weight"; labels not named keep 1.

>>> from headstart.data.labels import LabelSet
>>> weights = resolve_class_weights("auto", LabelSet(["a", "b"]), [[1.0, 0.0]] * 3 + [[0.0, 1.0]], multi_label=True)
>>> [round(w, 3) for w in weights]  # a: 1 negative / 3 positives; b: 3 / 1
[0.333, 3.0]
>>> resolve_class_weights("pos=2", LabelSet(["neg", "pos"]), [0, 1], multi_label=False)
[1.0, 2.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from headstart.data.labels import LabelSet, label_key
from headstart.errors import ConfigError


def resolve_class_weights(
    setting: str | dict | None, labels: LabelSet, targets: list[Any], *, multi_label: bool
) -> list[float] | None:
    """Weights in label2id order; ``targets`` is the training ``labels`` column (ids or multi-hot)."""
    if setting is None:
        return None
    if isinstance(setting, str) and setting.strip().lower() == "auto":
        return _auto(labels, targets, multi_label)
    given = _parse(setting)
    unknown = [name for name in given if name not in labels.label2id]
    if unknown:
        raise ConfigError(
            f"task.class_weights for labels among {', '.join(labels.names)}",
            found=f"unknown label{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in unknown)}",
            fix="name the labels as they appear in the training data, or use 'auto'",
        )
    return [float(given.get(name, 1.0)) for name in labels.names]


def _auto(labels: LabelSet, targets: list[Any], multi_label: bool) -> list[float]:
    if multi_label:
        hot = np.asarray(targets, dtype=float).reshape(len(targets), len(labels))
        positives = hot.sum(0)
        # a label never positive in train gets weight 1: nothing to up-weight
        return [float((len(hot) - p) / p) if p else 1.0 for p in positives]
    counts = np.bincount(np.asarray(targets, dtype=int), minlength=len(labels)).astype(float)
    n, k = counts.sum(), len(labels)
    return [float(n / (k * c)) if c else 1.0 for c in counts]


def _parse(setting: str | dict) -> dict[str, float]:
    if isinstance(setting, dict):
        items = list(setting.items())
    else:
        items = []
        for part in str(setting).split(","):
            name, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(
                    "task.class_weights as 'auto' or label=weight pairs (pos=2,neg=1)",
                    found=repr(setting),
                    fix="write e.g. --class-weights pos=2,neg=1",
                )
            items.append((name.strip(), value.strip()))
    out = {}
    for name, value in items:
        try:
            weight = float(value)
        except (TypeError, ValueError):
            weight = float("nan")
        if not math.isfinite(weight) or weight <= 0:
            raise ConfigError(
                "a positive number as each class weight",
                found=f"{name}={value!r}",
                fix="fix the weight (e.g. pos=2)",
            )
        out[str(label_key(name))] = weight
    return out
