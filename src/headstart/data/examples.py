"""Examples (text, optional pair, label) from any source, and the train/validation/test bundle.

A source is a file path, a pandas DataFrame, a list of texts, of (text, pair) tuples or of
dicts, or a dict of column lists. Every example keeps its location (``file:line``) so a bad
value deep in a file is reported where the user can fix it.

>>> ex = load_examples([{"text": "great film", "label": "pos"}, {"text": "dull", "label": "neg"}])
>>> ex.texts, ex.labels
(['great film', 'dull'], ['pos', 'neg'])
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from headstart.config import DataConfig
from headstart.data.columns import ColumnSpec, detect_columns
from headstart.data.labels import SINGLE, LabelKind, LabelSet
from headstart.data.options import ReadOptions
from headstart.data.readers import Table, hf_split_table, read_table, table_from_frame
from headstart.errors import DataError, LabelError

logger = logging.getLogger(__name__)

Source = Any  # str | Path | pandas.DataFrame | list | dict | Table


@dataclass
class Examples:
    texts: list[str]
    pairs: list[str] | None = None
    labels: list[Any] | None = None  # names; tuples of names (multi-label); floats (regression)
    locations: list[str] = field(default_factory=list)
    source: str = "data"
    columns: ColumnSpec | None = None

    def __post_init__(self) -> None:
        if not self.locations:
            self.locations = [f"{self.source} row {i + 1}" for i in range(len(self.texts))]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def is_pair(self) -> bool:
        return self.pairs is not None

    def subset(self, indices: Sequence[int]) -> Examples:
        pick = list(indices)
        return replace(
            self,
            texts=[self.texts[i] for i in pick],
            pairs=None if self.pairs is None else [self.pairs[i] for i in pick],
            labels=None if self.labels is None else [self.labels[i] for i in pick],
            locations=[self.locations[i] for i in pick],
        )

    def inputs(self) -> list[str] | list[tuple[str, str]]:
        """What :meth:`Predictor.predict` takes: texts, or (text, pair) tuples."""
        if self.pairs is None:
            return list(self.texts)
        return list(zip(self.texts, self.pairs))


def load_examples(
    source: Source,
    options: ReadOptions | None = None,
    *,
    need_label: bool = True,
    columns: ColumnSpec | None = None,
    label_kind: LabelKind = SINGLE,
    **read: Any,
) -> Examples:
    """Read examples from a file or an in-memory source; columns are detected unless named.

    Args:
        source: A file (csv, tsv, jsonl, json, parquet; .gz/.bz2/.xz), a DataFrame, rows or columns.
        options: How a file is read (``ReadOptions``); its keys may also be given as keywords (``read``).
        need_label: Refuse a source without a label column.
        columns: The training data's columns, preferred when this source has all of them, so a
            validation file with the same header uses the same columns; otherwise they are detected.
        label_kind: What a label cell holds: a class name (default), several names, a number.
    """
    options = ReadOptions.of(options, read)
    direct = _from_plain_list(source, need_label)
    if direct is not None:
        return direct
    table = to_table(source, options.format, options.encoding, options.header)
    wanted = [] if columns is None else [columns.text, columns.text_pair, columns.label if need_label else None]
    if columns is not None and all(c is None or c in table.columns for c in wanted):
        spec = detect_columns(
            table.columns,
            text=columns.text,
            text_pair=columns.text_pair,
            label=columns.label if need_label else None,
            need_label=need_label,
            source=table.source,
            label_names=label_kind.column_names(),
        )
    else:
        spec = detect_columns(
            table.columns,
            text=options.text_column,
            text_pair=options.text_pair_column,
            label=options.label_column,
            need_label=need_label,
            source=table.source,
            label_names=label_kind.column_names(),
        )
    texts = _text_values(table, spec.text)
    pairs = _text_values(table, spec.text_pair) if spec.text_pair else None
    labels = None
    if spec.label is not None:
        labels = []
        for i, raw in enumerate(table.data[spec.label]):
            try:
                key = label_kind.parse(raw)
            except ValueError as exc:
                raise LabelError(
                    f"{label_kind.describe()} in column '{spec.label}'",
                    found=str(exc),
                    fix="fix the value or drop the row",
                    file=table.location(i),
                ) from None
            if key is None and need_label:
                raise LabelError(
                    f"{label_kind.describe()} in column '{spec.label}'",
                    found="an empty value",
                    fix="fill it in or drop the row",
                    file=table.location(i),
                )
            labels.append(key)
    locations = [table.location(i) for i in range(len(table))]
    return Examples(texts, pairs, labels, locations, table.source, spec)


def _from_plain_list(source: Source, need_label: bool) -> Examples | None:
    if not isinstance(source, (list, tuple)) or not source:
        return None
    if all(isinstance(s, str) for s in source):
        texts: list[str] = list(source)
        pairs = None
    elif all(isinstance(s, (list, tuple)) and len(s) == 2 and all(isinstance(x, str) for x in s) for s in source):
        texts, pairs = [s[0] for s in source], [s[1] for s in source]
    else:
        return None
    if need_label:
        raise LabelError(
            "labeled examples (dicts or a DataFrame with a label column)",
            found="plain texts without labels",
            fix='pass e.g. [{"text": ..., "label": ...}] or a DataFrame',
        )
    return Examples(texts, pairs, None, source="input")


def to_table(source: Source, format: str | None = None, encoding: str | None = None, header: bool = True) -> Table:
    """Any source of rows (a file, a Table, a DataFrame, a dict of columns, a list of dicts) as a Table."""
    if isinstance(source, Table):
        return source
    if isinstance(source, (str, Path)):
        return read_table(source, format, encoding, header)
    if hasattr(source, "columns") and hasattr(source, "iloc"):  # a pandas DataFrame
        return table_from_frame(source, "dataframe")
    if isinstance(source, dict) and source and all(isinstance(v, (list, tuple)) for v in source.values()):
        lengths = {len(v) for v in source.values()}
        if len(lengths) != 1:
            raise DataError("columns of equal length", found=f"lengths {sorted(lengths)}", fix="align the lists")
        n = lengths.pop()
        return Table("input", list(source), {k: list(v) for k, v in source.items()}, list(range(1, n + 1)), "row")
    if isinstance(source, (list, tuple)) and source and all(isinstance(r, dict) for r in source):
        return Table.from_rows("input", list(source), list(range(1, len(source) + 1)), "row")
    raise DataError(
        "a file path, a pandas DataFrame, a dict of column lists, or a non-empty list of dicts/texts/(text, pair)",
        found=f"{type(source).__name__}" + (" (empty)" if not source else ""),
        fix="convert the data to one of these",
    )


def _text_values(table: Table, column: str) -> list[str]:
    out = []
    for i, value in enumerate(table.data[column]):
        if value is None:
            raise DataError(
                f"text in column '{column}'",
                found="a missing value",
                fix="fill it in or drop the row",
                file=table.location(i),
            )
        out.append(value if isinstance(value, str) else str(value))
    return out


@dataclass
class DataBundle:
    """The splits of a run, its label set, and what was done to get them (for the report)."""

    train: Examples
    validation: Examples
    test: Examples | None
    labels: LabelSet
    notes: list[str] = field(default_factory=list)


def load_splits(
    cfg: DataConfig,
    *,
    train: Source | None = None,
    validation: Source | None = None,
    test: Source | None = None,
    seed: int = 42,
    label_kind: LabelKind = SINGLE,
) -> DataBundle:
    """Load train / validation / test; hold out seeded stratified splits where none is given."""
    notes: list[str] = []
    train_ex = _load_split(cfg, train, cfg.train, cfg.train_split_name, None, label_kind)
    if train_ex is None:
        raise DataError("training data", found="none", fix="pass --train FILE (or data.dataset_name)")
    if train_ex.labels is None:
        raise LabelError("a label column in the training data", found="none", fix="name it with --label-column")
    labels = label_kind.label_set(train_ex.labels)
    distinct = {repr(v) for v in train_ex.labels}
    if len(distinct) < 2:
        raise LabelError(
            "at least two different labels in the training data",
            found=f"only {sorted(distinct)}",
            fix="check the label column",
            file=train_ex.source,
        )
    test_ex = _load_split(cfg, test, cfg.test, cfg.test_split_name, train_ex.columns, label_kind)
    if test_ex is None and cfg.test_fraction:
        train_ex, test_ex = stratified_split(train_ex, cfg.test_fraction, seed, label_kind)
        notes.append(
            f"held out a stratified test split of {len(test_ex)} examples ({cfg.test_fraction:.0%}, seed {seed})"
        )
    val_ex = _load_split(cfg, validation, cfg.validation, cfg.validation_split_name, train_ex.columns, label_kind)
    if val_ex is None:
        train_ex, val_ex = stratified_split(train_ex, cfg.validation_fraction, seed + 1, label_kind)
        notes.append(
            f"no validation set given: held out a stratified validation split of {len(val_ex)} examples "
            f"({cfg.validation_fraction:.0%} of train, seed {seed + 1})"
        )
    for split in (val_ex, test_ex):
        if split is not None:
            check_known_labels(split, labels, label_kind)
    for note in notes:
        logger.info(note)
    return DataBundle(train_ex, val_ex, test_ex, labels, notes)


def _load_split(
    cfg: DataConfig,
    given: Source | None,
    path: str | None,
    hf_split: str | None,
    columns: ColumnSpec | None,
    label_kind: LabelKind = SINGLE,
) -> Examples | None:
    options = ReadOptions.from_config(cfg)
    kwargs: dict[str, Any] = dict(columns=columns, label_kind=label_kind)
    if given is not None:
        return load_examples(given, options, **kwargs)
    if path is not None:
        return load_examples(path, options, **kwargs)
    table = hf_split_table(cfg, hf_split)
    return None if table is None else load_examples(table, options, **kwargs)


def check_known_labels(examples: Examples, labels: LabelSet, label_kind: LabelKind = SINGLE) -> None:
    """Every label in ``examples`` must have been seen in training."""
    known = labels.label2id
    for label, where in zip(examples.labels or [], examples.locations):
        for name in label_kind.names_of(label):
            if name not in known:
                raise LabelError(
                    f"a label seen in training ({', '.join(labels.names)})",
                    found=f"'{name}'",
                    fix="fix the label, or add examples of it to the training data",
                    file=where,
                )


def stratified_split(
    examples: Examples, fraction: float, seed: int, label_kind: LabelKind = SINGLE
) -> tuple[Examples, Examples]:
    """Hold out ``fraction`` of each label's examples (at least one where a label has two or more);
    multi-label examples are stratified by their first label, numbers not at all."""
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(examples.labels or [None] * len(examples)):
        by_label.setdefault(label_kind.stratum(label), []).append(i)
    rng = random.Random(seed)
    held: list[int] = []
    for label in sorted(by_label):
        idx = by_label[label]
        rng.shuffle(idx)
        k = round(len(idx) * fraction)
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        held.extend(idx[:k])
    if not held:
        raise DataError(
            f"enough training examples to hold out {fraction:.0%} for validation/test",
            found=f"{len(examples)} examples",
            fix="pass a --validation file or add training data",
            file=examples.source,
        )
    held_set = set(held)
    keep = [i for i in range(len(examples)) if i not in held_set]
    return examples.subset(keep), examples.subset(sorted(held))
