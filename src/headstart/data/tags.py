"""Tag schemes (IOB1, IOB2/BIO, BIOES), conversion, repair, and entity spans like seqeval.

Models are trained on IOB2 tags whatever the input scheme, so one label set serves every file.
Entity extraction follows seqeval: the default mode is conlleval's lenient reading (an ``I-X``
after ``O`` starts an entity), the strict mode counts only well-formed chunks of the scheme.

>>> to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"])
['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
>>> entities(["B-PER", "I-PER", "O", "I-LOC"])
[('PER', 0, 2), ('LOC', 3, 4)]
>>> entities(["B-PER", "I-PER", "O", "I-LOC"], strict=True)
[('PER', 0, 2)]
>>> repair(["O", "I-PER", "I-LOC", "B-ORG", "I-ORG"])
['O', 'B-PER', 'B-LOC', 'B-ORG', 'I-ORG']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SCHEMES = ("iob1", "iob2", "bioes")


def split_tag(tag: str) -> tuple[str, str]:
    """('B', 'PER') for 'B-PER', ('O', '') for 'O'; a bare type 'PER' reads as ('I', 'PER')."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESLU":
        prefix = {"L": "E", "U": "S"}.get(tag[0], tag[0])
        return prefix, tag[2:]
    return "I", tag


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """'bioes' if E-/S- tags occur, 'iob1' if some entity starts with I-, else 'iob2'."""
    prefixes = set()
    iob1 = False
    for tags in sequences:
        prev_type, prev_prefix = "", "O"
        for tag in tags:
            prefix, etype = split_tag(tag)
            prefixes.add(prefix)
            if prefix == "I" and (prev_prefix == "O" or prev_type != etype):
                iob1 = True
            prev_type, prev_prefix = etype, prefix
    if prefixes & {"E", "S"}:
        return "bioes"
    return "iob1" if iob1 else "iob2"


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert IOB1, IOB2 or BIOES tags to IOB2 (B- starts every entity).

    One rule covers all three: a tag continues an entity only when it is I-/E- of the type of
    the entity still open before it; B-/S- and every other I-/E- start a new one; E-/S- close it.
    """
    out = []
    open_type = None
    for tag in tags:
        prefix, etype = split_tag(tag)
        if prefix == "O":
            out.append("O")
            open_type = None
            continue
        continues = prefix in ("I", "E") and open_type == etype
        out.append(f"I-{etype}" if continues else f"B-{etype}")
        open_type = None if prefix in ("E", "S") else etype
    return out


def from_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """IOB2 tags written in another scheme (for output files in the user's scheme)."""
    if scheme == "iob2":
        return list(tags)
    spans = entities(tags, strict=True)
    out = ["O"] * len(tags)
    for etype, start, end in spans:
        for i in range(start, end):
            if scheme == "iob1":
                starts_here = i == start and start > 0 and (etype, start) in _adjacent_starts(spans)
                out[i] = f"B-{etype}" if starts_here else f"I-{etype}"
            else:
                if end - start == 1:
                    out[i] = f"S-{etype}"
                else:
                    out[i] = f"B-{etype}" if i == start else (f"E-{etype}" if i == end - 1 else f"I-{etype}")
    return out


def _adjacent_starts(spans: list[tuple[str, int, int]]) -> set[tuple[str, int]]:
    ends = {(etype, end) for etype, _, end in spans}
    return {(etype, start) for etype, start, _ in spans if (etype, start) in ends}


def repair(tags: Sequence[str]) -> list[str]:
    """Make an IOB2 sequence valid: an I-X that does not continue an X entity becomes B-X."""
    out = []
    prev = "O"
    for tag in tags:
        prefix, etype = split_tag(tag)
        if prefix == "I":
            p_prefix, p_type = split_tag(prev)
            if p_prefix not in ("B", "I") or p_type != etype:
                tag = f"B-{etype}"
        out.append(tag)
        prev = tag
    return out


def is_valid_iob2(tags: Sequence[str]) -> bool:
    return list(tags) == repair(tags)


def entities(tags: Sequence[str], strict: bool = False) -> list[tuple[str, int, int]]:
    """(type, start, end) spans of IOB2 tags; ``strict`` ignores chunks not opened by B-."""
    spans = []
    start, etype = None, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, t = split_tag(tag)
        continues = prefix == "I" and start is not None and t == etype
        if not continues and start is not None:
            spans.append((etype, start, i))
            start = None
        if prefix == "B" or (prefix == "I" and not continues and not strict):
            start, etype = i, t
    return spans


def allowed_transition(prev: str, tag: str) -> bool:
    """Whether IOB2 allows ``tag`` right after ``prev`` (``prev`` is 'O' at the sentence start)."""
    prefix, etype = split_tag(tag)
    if prefix != "I":
        return True
    p_prefix, p_type = split_tag(prev)
    return p_prefix in ("B", "I") and p_type == etype
