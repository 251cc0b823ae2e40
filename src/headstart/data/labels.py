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


class LabelKind:
    """What a label cell holds, for one task: a class name (this base), a set of names
    (:class:`MultiLabels`) or a number (:class:`Scores`). Data loading asks it how to read a
    cell, which names a label mentions, and how to stratify a held-out split."""

    def parse(self, raw: Any) -> Any:
        """The stored label of a raw cell; None when missing; ValueError with a reason when bad."""
        return label_key(raw)

    def label_set(self, values: Sequence[Any]) -> LabelSet:
        return LabelSet.from_values(values)

    def names_of(self, label: Any) -> list[str]:
        return [] if label is None else [label]

    def stratum(self, label: Any) -> str:
        return "" if label is None else str(label)

    def describe(self) -> str:
        return "a label"

    def column_names(self) -> tuple[str, ...]:
        """The column names detected as the label column when none is named."""
        from headstart.data.columns import LABEL_NAMES

        return LABEL_NAMES


@dataclass(frozen=True)
class MultiLabels(LabelKind):
    """Zero or more labels per example: a list (JSON) or a delimited string ("sports,politics").

    >>> kind = MultiLabels(",")
    >>> kind.parse("sports, politics"), kind.parse(["b", "a", "b"]), kind.parse("")
    (('politics', 'sports'), ('a', 'b'), ())
    """

    delimiter: str = ","

    def parse(self, raw: Any) -> tuple[str, ...]:
        if raw is None or (isinstance(raw, float) and raw != raw):
            return ()  # an empty cell: no label applies
        if isinstance(raw, (list, tuple)) or type(raw).__name__ == "ndarray":
            parts = list(raw)
        elif isinstance(raw, str):
            parts = raw.split(self.delimiter) if self.delimiter else [raw]
        else:
            parts = [raw]
        return tuple(sorted({k for k in (label_key(p) for p in parts) if k is not None}))

    def label_set(self, values: Sequence[Any]) -> LabelSet:
        return LabelSet.from_values([name for labels in values for name in labels])

    def names_of(self, label: Any) -> list[str]:
        return list(label or ())

    def stratum(self, label: Any) -> str:
        return label[0] if label else ""

    def describe(self) -> str:
        return f"labels as a list or separated by {self.delimiter!r}"


@dataclass(frozen=True)
class Scores(LabelKind):
    """A number per example (regression). The label set has one name: the target's.

    >>> Scores("similarity").parse(" 3.5 "), Scores().label_set([1.0, 2.0]).names
    (3.5, ['score'])
    """

    name: str = "score"

    def parse(self, raw: Any) -> float | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} (not a number)")
        try:
            value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise ValueError(f"{str(raw)[:40]!r} (not a number)") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{raw!r} (not a finite number)")
        return value

    def label_set(self, values: Sequence[Any]) -> LabelSet:
        return LabelSet([self.name])

    def names_of(self, label: Any) -> list[str]:
        return []

    def stratum(self, label: Any) -> str:
        return ""

    def describe(self) -> str:
        return "a number"

    def column_names(self) -> tuple[str, ...]:
        from headstart.data.columns import TARGET_NAMES

        return TARGET_NAMES


SINGLE = LabelKind()
