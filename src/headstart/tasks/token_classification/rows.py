"""File rows of a tagger: ``text`` (entities come back) or ``tokens`` (tags come back); CoNLL files
are read sentence by sentence, and a model trained with ``task.context`` sees the neighbouring
sentences of each document even across a chunk boundary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from headstart.data.rows import Chunk, RowProblem, text_field
from headstart.data.stream import CoNLL, Record
from headstart.data.tokens import TokenExamples
from headstart.tasks.common.rows import merge_fields


class TokenRows:
    def __init__(self, info: Any) -> None:
        self.context = int(info.settings.context or 0)
        # CoNLL input is read for its tokens only; a tag column, if there is one, is ignored
        self.stream_options = {"conll": CoNLL(token_column=int(info.columns.get("token_column", 0) or 0))}

    def __call__(self, record: Record, source: str) -> Any:
        fields = record.fields
        for key in ("tokens", "words"):
            if key in fields:
                words = fields[key]
                if not isinstance(words, list) or not all(isinstance(w, (str, int, float)) for w in words):
                    raise RowProblem(f'"{key}" should be a list of words, found {type(words).__name__}')
                return [str(w) for w in words]
        if "text" in fields:
            return text_field(fields, "text")
        raise RowProblem(f'a "text" or a "tokens" field, found keys {sorted(fields)[:10]}')

    def chunks(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        return with_neighbours(chunks, self.context) if self.context > 0 else chunks

    def predict(self, run: Any, chunk: Chunk, batch_size: int, options: dict[str, Any]) -> list[Any]:
        """Entities for text rows, tags for token rows: each kind predicted together, order kept."""
        out: list[Any] = [None] * len(chunk.inputs)
        texts = [i for i, x in enumerate(chunk.inputs) if isinstance(x, str)]
        words = [i for i, x in enumerate(chunk.inputs) if not isinstance(x, str)]
        if texts:
            for i, pred in zip(texts, run.predict([chunk.inputs[i] for i in texts], batch_size=batch_size, **options)):
                out[i] = pred
        if words:
            sentences = chunk.before + [(chunk.inputs[i], chunk.documents[i]) for i in words] + chunk.after
            docs = [d for _, d in sentences]
            examples = TokenExamples(
                [w for w, _ in sentences],
                source="input",
                documents=None if any(d is None for d in docs) else [int(d) for d in docs],  # type: ignore[arg-type]
            )
            preds = run.predict(examples, batch_size=batch_size, **options)
            for i, pred in zip(words, preds[len(chunk.before) :]):
                out[i] = pred
        return out

    def merge(self, fields: dict[str, Any], value: Any, prediction: Any) -> dict[str, Any]:
        if isinstance(value, list):
            new = {"tags": [p["tag"] for p in prediction], "scores": [p["score"] for p in prediction]}
        else:
            new = {"entities": prediction}
        return merge_fields(fields, new)


def with_neighbours(chunks: Iterator[Chunk], context: int) -> Iterator[Chunk]:
    """Give each chunk the sentences around its edges that a context model would have seen.

    A model trained with ``task.context`` reads up to ``context`` sub-tokens of the neighbouring
    sentences of the same document; a chunk boundary must not take them away, or predictions
    would depend on ``chunk_size``. Each word is at least one sub-token, so sentences are carried
    until they hold ``context`` words. One chunk is read ahead for the right-hand side.
    """
    prev: Chunk | None = None
    cur = next(chunks, None)
    while cur is not None:
        nxt = next(chunks, None)
        if prev is not None and cur.documents and cur.documents[0] is not None:
            cur.before = _edge(prev, cur.documents[0], context, reverse=True)
        if nxt is not None and cur.documents and cur.documents[-1] is not None:
            cur.after = _edge(nxt, cur.documents[-1], context, reverse=False)
        yield cur
        prev, cur = cur, nxt


def _edge(chunk: Chunk, document: int, context: int, *, reverse: bool) -> list[tuple[Any, int | None]]:
    out: list[tuple[Any, int | None]] = []
    words = 0
    pairs = list(zip(chunk.inputs, chunk.documents))
    for value, doc in reversed(pairs) if reverse else pairs:
        if isinstance(value, str) or doc != document or words >= context:
            break
        out.append((value, doc))
        words += len(value)
    return out[::-1] if reverse else out
