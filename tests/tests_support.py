"""Tiny labeled data and markers shared by tests (tests/ is put on sys.path by conftest)."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

POSITIVE = [
    "great movie loved it",
    "wonderful film excellent acting",
    "brilliant story best fun",
    "amazing plot great actors",
    "loved this film so much",
    "excellent and wonderful fun",
]
NEGATIVE = [
    "awful movie hated it",
    "boring film terrible acting",
    "dull story worst time",
    "bad plot poor actors",
    "hated this film so much",
    "terrible and boring waste",
]
SENTIMENT = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]


def requires_shared(*parts: str) -> pytest.MarkDecorator:
    """Skip (with the reason) when ../shared/data is absent: its files are never copied here."""
    path = SHARED_DATA.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"real data not present at {path}")


def requires_bundled(name: str) -> pytest.MarkDecorator:
    from headstart.errors import ModelLoadError
    from headstart.models import resolve_model

    try:
        resolve_model(name)
        missing = None
    except ModelLoadError as exc:
        missing = str(exc)
    return pytest.mark.skipif(missing is not None, reason=missing or "")


def ner_rows() -> list[dict]:
    """Synthetic NER sentences over the tiny vocabulary: entity identity is learnable by word,
    and 'xyzzy' (split into five sub-tokens) is a person, to exercise sub-word alignment."""
    people = [["he"], ["she"], ["xyzzy"], ["she", "xyzzy"]]
    orgs = [["company"], ["new", "company"], ["market"]]
    templates = [("{p} said the {o} was great", "p o"), ("the {o} loved {p}", "o p"), ("{p} hated {o} so much", "p o")]
    rows = []
    for i in range(36):
        p, o = people[i % len(people)], orgs[i % len(orgs)]
        template, _ = templates[i % len(templates)]
        words, tags = [], []
        for part in template.split():
            if part == "{p}":
                words += p
                tags += ["B-PER"] + ["I-PER"] * (len(p) - 1)
            elif part == "{o}":
                words += o
                tags += ["B-ORG"] + ["I-ORG"] * (len(o) - 1)
            else:
                words.append(part)
                tags.append("O")
        rows.append({"tokens": words, "tags": tags})
    return rows
