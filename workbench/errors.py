"""Errors the user can act on.

An :class:`InputError` names the file, where in it (row and/or column) and what was expected.
It never carries a cell's value unless the caller decided the value is safe to show (amounts,
dates, header names), so messages and logs stay free of personal data.
"""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Base class for errors reported to the user without a traceback."""


class InputError(WorkbenchError):
    """A file that cannot be imported as it is."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.problem = problem
        self.row = row
        self.column = column
        self.expected = expected
        super().__init__(self._message())

    def _message(self) -> str:
        where = [str(self.path)]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where)}: {self.problem}"
        if self.expected:
            text += f"; expected {self.expected}"
        return text
