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
