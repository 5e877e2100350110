"""Errors the user can act on.

An :class:`InputError` names the file, where in it (row and/or column) and what was expected.
It never carries a cell's value unless the caller decided the value is safe to show (amounts,
dates, header names), so messages and logs stay free of personal data. File names and captions
come from outside: their control and formatting characters are shown escaped (:func:`printable`),
so a name cannot move the cursor, recolour the terminal or reverse the text that follows.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

# control, formatting (bidi overrides, zero-width), surrogate, private-use, unassigned, line and
# paragraph separators: none prints as itself
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def printable(text: object) -> str:
    """``text`` with every character that does not print as itself escaped (``\\x1b``,
    ``\\u202e``); ordinary letters, accents included, stay as they are."""
    return "".join(_escape(c) if unicodedata.category(c) in _UNPRINTABLE else c for c in str(text))


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


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
        return printable(text)
