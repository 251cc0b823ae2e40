"""Question-answering examples: a question, its context and the answers' character spans.

Read from SQuAD JSON as distributed (``data`` -> ``paragraphs`` -> ``qas``), from the flat rows
HF ``datasets`` uses (``question``, ``context``, ``answers: {"text": [...], "answer_start":
[...]}``) in any table format, from csv/tsv rows with an ``answer`` and an optional
``answer_start``, or from in-memory rows. A question with no answer (SQuAD 2.0's
``is_impossible``, or empty answers) is a "no answer" example.

An ``answer_start`` that does not point at its answer's text is repaired where that is
unambiguous (the nearest occurrence of the text; the only one when no start was given) and the
repair is recorded; an answer that is not in its context is an error with its location.

>>> ex = qa_from_rows([{"question": "Who?", "context": "Ann met Bob.", "answer": "Bob"}])
>>> ex.answers[0][0], ex.repairs
(Answer(text='Bob', start=8), [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from headstart.data.examples import to_table
from headstart.data.options import ReadOptions
from headstart.data.readers import Table
from headstart.errors import DataError

QUESTION_KEYS = ("question", "query")
CONTEXT_KEYS = ("context", "passage", "paragraph")
ANSWER_KEYS = ("answers", "answer")


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset into the context

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class Repair:
    """An ``answer_start`` that did not point at its text, moved to the nearest occurrence of it."""

    location: str
    text: str
    given: int
    used: int
    occurrences: int

    def line(self) -> str:
        how = "the only occurrence" if self.occurrences == 1 else f"the nearest of {self.occurrences} occurrences"
        return f"{self.location}: answer_start {self.given} -> {self.used} ({how} of {self.text[:40]!r})"


@dataclass
class QAExamples:
    questions: list[str]
    contexts: list[str]
    answers: list[list[Answer]] | None = None  # None: unlabeled; [] for a question without an answer
    ids: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    source: str = "data"
    repairs: list[Repair] = field(default_factory=list)
    # where an answer_start points at its text but the text occurs more than once in the context:
    # the start decides which occurrence is meant, and nothing can check it
    ambiguous: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.locations:
            self.locations = [f"{self.source} row {i + 1}" for i in range(len(self.questions))]
        if not self.ids:
            self.ids = [str(i) for i in range(len(self.questions))]

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def has_unanswerable(self) -> bool:
        """Whether some question has no answer (SQuAD 2.0-style data)."""
        return self.answers is not None and any(not a for a in self.answers)

    def golds(self) -> dict[str, list[str]]:
        """Each question's gold answer texts by id, as the SQuAD metrics take them."""
        return {qid: [a.text for a in answers] for qid, answers in zip(self.ids, self.answers or [])}

    def inputs(self) -> list[dict[str, str]]:
        return [{"question": q, "context": c} for q, c in zip(self.questions, self.contexts)]

    def subset(self, indices: Sequence[int]) -> QAExamples:
        pick = list(indices)
        kept = {self.locations[i] for i in pick}
        return replace(
            self,
            questions=[self.questions[i] for i in pick],
            contexts=[self.contexts[i] for i in pick],
            answers=None if self.answers is None else [self.answers[i] for i in pick],
            ids=[self.ids[i] for i in pick],
            locations=[self.locations[i] for i in pick],
            repairs=[r for r in self.repairs if r.location in kept],
            ambiguous=[where for where in self.ambiguous if where in kept],
        )


def read_qa(source: Any, options: ReadOptions | None = None, need_answers: bool = True) -> QAExamples:
    """QA examples from a file (SQuAD JSON or flat rows in any format), a DataFrame or rows."""
    options = options or ReadOptions()
    table = to_table(source, options.format, options.encoding, options.header)
    if "paragraphs" in table.columns:  # SQuAD JSON: one row per article
        return _from_articles(table)
    rows = [dict(zip(table.columns, values)) for values in zip(*table.data.values())]
    return qa_from_rows(rows, [table.location(i) for i in range(len(table))], table.source, need_answers)


def qa_from_rows(
    rows: list[dict[str, Any]], locations: list[str] | None = None, source: str = "input", need_answers: bool = True
) -> QAExamples:
    """Flat rows: a question, a context, and answers in the HF, list or single-answer form."""
    if not rows:
        raise DataError("at least one question", found="no rows", fix="check the data", file=source)
    locations = locations or [f"{source} row {i + 1}" for i in range(len(rows))]
    question_key = _key(rows[0], QUESTION_KEYS, "a question column", locations[0])
    context_key = _key(rows[0], CONTEXT_KEYS, "a context column", locations[0])
    labeled = any(k in rows[0] for k in (*ANSWER_KEYS, "is_impossible"))
    if need_answers and not labeled:
        raise DataError(
            'an "answers" (or "answer") column with the answer to each question',
            found=f"columns {sorted(rows[0])}",
            fix='add the answers: {"text": [...], "answer_start": [...]}, or an answer column',
            file=source,
        )
    out = QAExamples([], [], [] if labeled else None, source=source)
    for row, where in zip(rows, locations):
        question = _text(row.get(question_key), question_key, where)
        context = _text(row.get(context_key), context_key, where)
        answers = _answers(row, context, where, out.repairs, out.ambiguous) if labeled else None
        _add(out, str(row.get("id", len(out.questions))), question, context, answers, where)
    return out


def _from_articles(table: Table) -> QAExamples:
    out = QAExamples([], [], [], source=table.source)
    for i, (title, paragraphs) in enumerate(
        zip(table.data.get("title", [None] * len(table)), table.data["paragraphs"])
    ):
        article = f"{table.location(i)} ({title})" if title else table.location(i)
        if not isinstance(paragraphs, list):
            fix = "give each article a list of paragraphs, as SQuAD files have"
            raise DataError('a list under "paragraphs"', found=type(paragraphs).__name__, fix=fix, file=article)
        for j, paragraph in enumerate(paragraphs):
            where = f"{article} paragraph {j + 1}"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("qas"), list):
                fix = "give the paragraph its context and a list of questions"
                raise DataError(
                    'a paragraph {"context": ..., "qas": [...]}', found=repr(paragraph)[:80], fix=fix, file=where
                )
            context = _text(paragraph.get("context"), "context", where)
            for k, qa in enumerate(paragraph["qas"]):
                here = f"{where} question {k + 1}"
                if not isinstance(qa, dict):
                    fix = "write each question as an object"
                    raise DataError('a question {"id", "question", "answers"}', found=repr(qa)[:80], fix=fix, file=here)
                answers = _answers(qa, context, here, out.repairs, out.ambiguous)
                question = _text(qa.get("question"), "question", here)
                _add(out, str(qa.get("id", len(out.questions))), question, context, answers, here)
    if not out.questions:
        raise DataError("at least one question", found="no questions", fix="check the file", file=table.source)
    return out


def _add(out: QAExamples, qid: str, question: str, context: str, answers: list[Answer] | None, where: str) -> None:
    out.ids.append(qid)
    out.questions.append(question)
    out.contexts.append(context)
    out.locations.append(where)
    if out.answers is not None and answers is not None:
        out.answers.append(answers)


def _key(row: dict[str, Any], keys: tuple[str, ...], what: str, where: str) -> str:
    for key in keys:
        if key in row:
            return key
    raise DataError(
        f"{what} (named {' or '.join(keys)})", found=f"columns {sorted(row)}", fix="rename the column", file=where
    )


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        found = "a missing value" if value is None else f"a {type(value).__name__}"
        raise DataError(f"text under '{key}'", found=found, fix="fill it in or drop the row", file=where)
    return value


def _answers(
    row: dict[str, Any], context: str, where: str, repairs: list[Repair], ambiguous: list[str]
) -> list[Answer]:
    """The answers of one question, each checked against its context (and repaired when it can be)."""
    if row.get("is_impossible") in (True, "true", "True", 1):
        return []
    raw = row.get("answers", row.get("answer"))
    pairs: list[tuple[Any, Any]]
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):  # csv: one answer, its start in answer_start when known
        pairs = [(raw, row.get("answer_start"))]
    elif isinstance(raw, dict):  # HF datasets: {"text": [...], "answer_start": [...]}
        texts, starts = raw.get("text"), raw.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise DataError(
                'answers as {"text": [...], "answer_start": [...]} of equal length',
                found=repr(raw)[:80],
                fix="fix the answers",
                file=where,
            )
        pairs = list(zip(texts, starts))
    elif isinstance(raw, list) and all(isinstance(a, dict) for a in raw):  # SQuAD: [{"text", "answer_start"}]
        pairs = [(a.get("text"), a.get("answer_start")) for a in raw]
    else:
        raise DataError(
            'answers as [{"text": ..., "answer_start": ...}], {"text": [...], "answer_start": [...]} or a string',
            found=repr(raw)[:80],
            fix="fix the answers",
            file=where,
        )
    return [_locate(text, start, context, where, repairs, ambiguous) for text, start in pairs]


def _locate(text: Any, start: Any, context: str, where: str, repairs: list[Repair], ambiguous: list[str]) -> Answer:
    if not isinstance(text, str) or not text.strip():
        raise DataError(
            "an answer text", found=repr(text)[:80], fix="fill it in, or leave the answers empty", file=where
        )
    given = _offset(start, where)
    if given is not None and context[given : given + len(text)] == text:
        if context.find(text, context.find(text) + 1) != -1 and (not ambiguous or ambiguous[-1] != where):
            ambiguous.append(where)
        return Answer(text, given)
    found = _occurrences(context, text)
    if not found:
        raise DataError(
            "an answer that occurs in its context",
            found=f"{text[:60]!r} nowhere in the context",
            fix="fix the answer or the context, or drop the question",
            file=where,
        )
    if given is None and len(found) > 1:
        raise DataError(
            "an answer_start where the answer occurs more than once in its context",
            found=f"{text[:60]!r} {len(found)} times",
            fix="add an answer_start column (the answer's character offset in the context)",
            file=where,
        )
    if given is None:
        return Answer(text, found[0])  # no start given, one occurrence: found, not repaired
    used = min(found, key=lambda s: (abs(s - given), s))
    repairs.append(Repair(where, text, given, used, len(found)))
    return Answer(text, used)


def _offset(start: Any, where: str) -> int | None:
    """A given answer_start as an int; None where the row has none (csv: an empty cell)."""
    if start is None or start == "" or (isinstance(start, float) and start != start):
        return None
    whole = isinstance(start, int) or (isinstance(start, float) and start.is_integer())
    if isinstance(start, str) and start.strip().lstrip("-").isdigit():
        return int(start)
    if isinstance(start, bool) or not whole:
        raise DataError(
            "answer_start as a whole number of characters", found=repr(start)[:40], fix="fix it", file=where
        )
    return int(start)


def _occurrences(context: str, text: str) -> list[int]:
    out, at = [], context.find(text)
    while at != -1:
        out.append(at)
        at = context.find(text, at + 1)
    return out
