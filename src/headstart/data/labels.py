"""Label sets: ``label2id`` built from the training data in a stable order.

Values read from text files are strings, so ``"1"`` and ``1`` must mean the same label: integral
values (ints, ``"1"``, ``1.0``) are normalised to integers and, when every training label is one,
sorted numerically; otherwise all labels are strings sorted alphabetically. The order never
depends on row order, so two runs on shuffled copies of a file agree.

>>> labels = LabelSet.from_values(["rotten", "fresh", "fresh"])
>>> labels.label2id
{'fresh': 0, 'rotten': 1}
>>> LabelSet.from_values(["10", "9", 2]).names
['2', '9', '10']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def normalize_label(value: Any) -> int | str | None:
    """An int for integral values, a stripped string otherwise; None for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        as_float = float(text)
    except ValueError:
        return text
    return int(as_float) if as_float.is_integer() else text


def label_key(value: Any) -> str | None:
    """The name under which a raw label value is stored: ``1``, ``"1"`` and ``1.0`` give ``"1"``."""
    normal = normalize_label(value)
    return None if normal is None else str(normal)


@dataclass(frozen=True)
class LabelSet:
    names: list[str]

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> LabelSet:
        normal = {normalize_label(v) for v in values} - {None}
        if all(isinstance(v, int) for v in normal):
            ordered = [str(v) for v in sorted(normal)]  # type: ignore[type-var]
        else:
            ordered = sorted(str(v) for v in normal)
        return cls(ordered)

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    def __len__(self) -> int:
        return len(self.names)

    def key(self, value: Any) -> str | None:
        """The label name a raw value maps to (it may be absent from the set)."""
        return label_key(value)

    def distribution(self, values: Sequence[Any]) -> dict[str, int]:
        counts = Counter(self.key(v) for v in values)
        return {name: counts.get(name, 0) for name in self.names}
