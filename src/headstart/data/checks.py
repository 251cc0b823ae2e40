"""Data checks before training: what makes a score untrustworthy or a run wasteful, said up front.

Each split is seen as a list of items (a text — the pair joined to it, or a sentence's words —
its label, and its ``file:line``). The checks:

- empty or whitespace-only texts;
- exact duplicates within a split, and near-duplicates (equal once case, accents, punctuation and
  spacing are ignored);
- leakage: validation/test texts that also occur (near-)identically in train — their scores
  measure memory, not generalisation;
- conflicting labels: one (near-)identical text with different labels in train;
- label distribution per split, with a warning when it is skewed (most/least frequent label
  >= 10x) or when train and validation disagree (total variation distance > 0.15, on 30 or more
  items);
- length distribution in tokens, and the share that ``max_length`` truncates.

Findings carry up to five locations each, so the user can open the file at the line.

>>> split = CheckSplit(["Great film!", "great film", ""], ["pos", "pos", "neg"], ["a.csv:2", "a.csv:3", "a.csv:4"])
>>> [f.check for f in check_data({"train": split}).findings]
['empty', 'near_duplicates']
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SHOWN = 5  # locations listed per finding
SKEW_RATIO = 10.0
SHIFT_TVD = 0.15
SHIFT_MIN_ITEMS = 30  # below this a split's proportions are too noisy to call a shift


@dataclass
class CheckSplit:
    texts: list[str]
    labels: list[str] | None  # one hashable label per item (a sentence's tags joined, for NER)
    locations: list[str]
    label_counts: dict[str, int] | None = None  # the distribution to report (tags or entity types for NER)
    lengths: list[int] | None = None  # tokens per item before truncation


@dataclass
class Finding:
    check: str
    split: str
    count: int
    message: str
    locations: list[str] = field(default_factory=list)
    severity: str = "warning"

    def line(self) -> str:
        where = f" (e.g. {', '.join(self.locations)})" if self.locations else ""
        return f"{self.split}: {self.message}{where}"


@dataclass
class DataChecks:
    findings: list[Finding]
    label_distribution: dict[str, dict[str, int]]
    lengths: dict[str, dict[str, float]]
    estimate: dict[str, float] | None = None

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize(text: str) -> str:
    """The near-duplicate key: case, accents, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def check_data(
    splits: dict[str, CheckSplit], max_length: int | None = None, long_inputs: str = "truncated"
) -> DataChecks:
    """Run every check over ``splits`` (``train`` first; ``validation``/``test`` when given).

    ``long_inputs`` says what happens to texts over ``max_length``: ``truncated`` (their ends are
    not seen) or ``windowed`` (split into overlapping windows, nothing lost).
    """
    findings: list[Finding] = []
    keys = {name: [normalize(t) for t in split.texts] for name, split in splits.items()}
    for name, split in splits.items():
        findings += _empty(name, split)
        findings += _duplicates(name, split, keys[name])
    train = splits.get("train")
    if train is not None:
        first_seen = {}
        for i, key in enumerate(keys["train"]):
            if key:
                first_seen.setdefault(key, i)
        for name in splits:
            if name != "train":
                findings += _leakage(name, splits[name], keys[name], first_seen, train)
        findings += _conflicts(train, keys["train"])
    distribution = {
        name: dict(split.label_counts) if split.label_counts is not None else dict(Counter(split.labels or []))
        for name, split in splits.items()
    }
    findings += _label_findings(distribution)
    lengths = {name: _length_stats(split.lengths, max_length) for name, split in splits.items() if split.lengths}
    for name, stats in lengths.items():
        if stats.get("truncated"):
            findings.append(
                Finding(
                    "truncation",
                    name,
                    int(stats["truncated"]),
                    f"{int(stats['truncated'])} of {int(stats['count'])} texts ({100 * stats['truncated_share']:.1f}%) "
                    f"are longer than max_length={max_length} tokens (longest {int(stats['max'])}); "
                    + (
                        "they are split into overlapping windows, nothing is lost"
                        if long_inputs == "windowed"
                        else "their ends are cut off: raise model.max_length if the ends matter"
                    ),
                    severity="info",
                )
            )
    return DataChecks(findings, distribution, lengths)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _where(split: CheckSplit, indices: list[int]) -> list[str]:
    return [split.locations[i] for i in indices[:SHOWN]]


def _empty(name: str, split: CheckSplit) -> list[Finding]:
    empty = [i for i, t in enumerate(split.texts) if not t.strip()]
    if not empty:
        return []
    return [
        Finding("empty", name, len(empty), f"{_n(len(empty), 'empty or whitespace-only text')}", _where(split, empty))
    ]


def _duplicates(name: str, split: CheckSplit, keys: list[str]) -> list[Finding]:
    exact_seen: set[str] = set()
    near_seen: set[str] = set()
    exact, near = [], []
    for i, (text, key) in enumerate(zip(split.texts, keys)):
        if not key:
            continue
        if text in exact_seen:
            exact.append(i)
        elif key in near_seen:
            near.append(i)
        exact_seen.add(text)
        near_seen.add(key)
    out = []
    if exact:
        out.append(
            Finding(
                "duplicates",
                name,
                len(exact),
                f"{_n(len(exact), 'exact duplicate')} of an earlier text in this split",
                _where(split, exact),
            )
        )
    if near:
        out.append(
            Finding(
                "near_duplicates",
                name,
                len(near),
                f"{_n(len(near), 'near-duplicate')} of an earlier text "
                "(equal up to case, accents, punctuation or spacing)",
                _where(split, near),
            )
        )
    return out


def _leakage(
    name: str, split: CheckSplit, keys: list[str], first_seen: dict[str, int], train: CheckSplit
) -> list[Finding]:
    leaked = [i for i, key in enumerate(keys) if key and key in first_seen]
    if not leaked:
        return []
    pairs = [f"{split.locations[i]} = {train.locations[first_seen[keys[i]]]}" for i in leaked[:SHOWN]]
    share = 100 * len(leaked) / max(len(keys), 1)
    return [
        Finding(
            "leakage",
            name,
            len(leaked),
            f"{_n(len(leaked), 'text')} ({share:.1f}%) also in train: their scores measure memory; "
            "remove them from one side for an honest score",
            pairs,
        )
    ]


def _conflicts(train: CheckSplit, keys: list[str]) -> list[Finding]:
    if train.labels is None:
        return []
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key:
            by_key[key].append(i)
    conflicting = [ids for ids in by_key.values() if len({train.labels[i] for i in ids}) > 1]
    if not conflicting:
        return []
    shown = [" vs ".join(train.locations[i] for i in ids[:2]) for ids in conflicting[:SHOWN]]
    return [
        Finding(
            "conflicting_labels",
            "train",
            len(conflicting),
            f"{_n(len(conflicting), 'text')} with different labels: fix or drop them, the model cannot fit both",
            shown,
        )
    ]


def _label_findings(distribution: dict[str, dict[str, int]]) -> list[Finding]:
    out = []
    train = distribution.get("train") or {}
    for name, counts in distribution.items():
        present = {k: v for k, v in counts.items() if v > 0}
        if len(present) >= 2:
            most, least = max(present, key=present.get), min(present, key=present.get)
            ratio = present[most] / present[least]
            if ratio >= SKEW_RATIO:
                out.append(
                    Finding(
                        "imbalance",
                        name,
                        len(present),
                        f"labels are skewed: '{most}' {present[most]} vs '{least}' {present[least]} ({ratio:.0f}x); "
                        "watch the per-class scores, not only accuracy "
                        "(--class-weights auto weighs the loss against it)",
                    )
                )
        if name != "train" and train and sum(counts.values()) >= SHIFT_MIN_ITEMS:
            tvd = _total_variation(train, counts)
            if tvd > SHIFT_TVD:
                out.append(
                    Finding(
                        "distribution_shift",
                        name,
                        len(counts),
                        f"label proportions differ from train's by {tvd:.2f} (total variation distance); "
                        "scores here may not reflect the training distribution",
                    )
                )
    return out


def _total_variation(a: dict[str, int], b: dict[str, int]) -> float:
    ta, tb = sum(a.values()), sum(b.values())
    if not ta or not tb:
        return 0.0
    return 0.5 * sum(abs(a.get(k, 0) / ta - b.get(k, 0) / tb) for k in set(a) | set(b))


def _length_stats(lengths: list[int], max_length: int | None) -> dict[str, float]:
    values = np.asarray(lengths)
    stats = {
        "count": float(len(values)),
        "mean": round(float(values.mean()), 1),
        "p50": float(np.percentile(values, 50)),
        "p90": float(np.percentile(values, 90)),
        "p99": float(np.percentile(values, 99)),
        "max": float(values.max()),
    }
    if max_length:
        truncated = int((values > max_length).sum())
        stats.update(truncated=float(truncated), truncated_share=round(truncated / len(values), 4))
    return stats
