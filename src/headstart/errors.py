"""Typed errors: every message says what was expected, what was found and what to do.

The CLI prints ``str(error)`` and exits 2 for any :class:`HeadstartError`; library code raises
these instead of ``assert`` so a user never sees a traceback for a mistake in their input.

>>> str(DataError("a label column", found="columns ['a', 'b']", fix="name it with --label-column",
...               file="train.csv"))
"train.csv: expected a label column; found columns ['a', 'b']; name it with --label-column"
"""

from __future__ import annotations

from pathlib import Path


class HeadstartError(Exception):
    """Base class: a one-line message built from expected / found / fix, with file and line."""

    def __init__(
        self,
        expected: str,
        *,
        found: str | None = None,
        fix: str | None = None,
        file: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        self.expected = expected
        self.found = found
        self.fix = fix
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        parts = [f"expected {self.expected}"]
        if self.found is not None:
            parts.append(f"found {self.found}")
        if self.fix is not None:
            parts.append(self.fix)
        return where + "; ".join(parts)


class ConfigError(HeadstartError, ValueError):
    """A config key, value or flag is unknown or invalid."""


class DataError(HeadstartError, ValueError):
    """A data file or in-memory dataset cannot be read or does not fit the task."""


class LabelError(DataError):
    """Labels are missing, unseen in training, or of a kind the task cannot use."""


class ModelLoadError(HeadstartError, OSError):
    """A backbone or a saved model directory cannot be found or loaded."""


class OutputExistsError(HeadstartError, FileExistsError):
    """The output directory exists and is not empty; nothing is overwritten without --overwrite."""


class MissingDependencyError(HeadstartError, ImportError):
    """An optional package is needed for this feature."""


class DistributedError(HeadstartError, RuntimeError):
    """A rank of a distributed run could not reach the others (dead, stalled or cut off)."""


class ExportError(HeadstartError, RuntimeError):
    """A model could not be exported, or the export does not match the original."""
