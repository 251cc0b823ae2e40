"""ReadOptions: how a file of labeled or unlabeled text is read, in one place.

``load_examples``, ``evaluate``, ``predict_file``, the tasks' readers and the CLI take these
keywords; they are declared once, here (the training config's ``data`` section holds the same
keys for training files, ``ReadOptions.from_config`` reads them from there).

>>> ReadOptions.of(None, {"text_column": "review"}).text_column
'review'
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

from headstart.errors import ConfigError


@dataclass(frozen=True)
class ReadOptions:
    """How a file is read; every key unset reads the file as its extension and header say.

    Args:
        format: The file format (csv, tsv, jsonl, json, parquet; conll for NER); from the extension when absent.
        encoding: The text encoding; detected when absent (UTF-8 with or without BOM, UTF-16, latin-1).
        header: Whether csv/tsv files start with a header row; without one, columns are column_1, column_2, ...
        text_column: The column with the text; detected from common names when absent.
        text_pair_column: The column with the second text of a pair; detected when absent.
        label_column: The column with the label; detected when absent.
    """

    format: str | None = None
    encoding: str | None = None
    header: bool = True
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None

    @classmethod
    def of(cls, options: ReadOptions | None, keywords: dict[str, Any]) -> ReadOptions:
        """``options`` with ``keywords`` (the same names, as functions also take them) applied over it."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            near = difflib.get_close_matches(unknown[0], sorted(names), n=1)
            raise ConfigError(
                f"reader keywords among {', '.join(sorted(names))}",
                found=", ".join(unknown),
                fix=f"did you mean {near[0]!r}?" if near else "fix the keyword's name",
            )
        return dataclasses.replace(options or cls(), **keywords)

    @classmethod
    def from_config(cls, data: Any) -> ReadOptions:
        """The training config's ``data`` section's reader keys."""
        return cls(**{f.name: getattr(data, f.name) for f in dataclasses.fields(cls)})

    @property
    def names_columns(self) -> bool:
        """Whether a column was named (then it wins over the columns the model was trained on)."""
        return any((self.text_column, self.text_pair_column, self.label_column))

    def keywords(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


READ_KEYS = tuple(f.name for f in dataclasses.fields(ReadOptions))
