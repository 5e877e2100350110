"""Writing tables that hold personal data: owner-only files, cells safe against formula
injection.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula; an export value such as ``=HYPERLINK(...)`` typed into a
name field would run on the analyst's machine. Such cells get a leading single quote. A negative
amount written as text (``-12,50``) is a number to a spreadsheet, not a formula, and stays as it is:
a package's descriptor declares such a column a number.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"-\d+(?:[.,]\d+)?")


def safe_cell(value: object) -> object:
    """The value, quoted when a spreadsheet would read it as a formula; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NEGATIVE_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell made safe; column names too."""
    out = frame.copy()
    for i in range(out.shape[1]):  # by position: column names need not be unique
        column = out.iloc[:, i]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            out.isetitem(i, column.map(safe_cell))
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out


@contextmanager
def owner_only():
    """Files created inside are readable by the owner only."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """UTF-8 CSV with a header row, owner-only, formula-safe."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with owner_only():
        safe_frame(frame).to_csv(path, index=False, encoding="utf-8")
    path.chmod(0o600)
    return path


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """One sheet per table, owner-only, formula-safe, with frozen header and filters."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with owner_only(), pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            safe_frame(frame).to_excel(writer, sheet_name=name[:31], index=False)
            sheet = writer.sheets[name[:31]]
            sheet.freeze_panes = "A2"
            if len(frame.columns):
                sheet.auto_filter.ref = sheet.dimensions
    path.chmod(0o600)
    return path


def write_pdf(page: str, path: Path) -> Path:
    """An HTML page as PDF with WeasyPrint, offline (only file: and data: URLs are fetched), owner-only."""
    with warnings.catch_warnings():  # WeasyPrint warns when the system lacks HarfBuzz-Subset
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher

        with owner_only():
            HTML(string=page, base_url=str(path.parent),
                 url_fetcher=URLFetcher(allowed_protocols={"file", "data"})).write_pdf(
                str(path), pdf_variant="pdf/ua-1")  # tagged for screen readers, /Lang and title set
    path.chmod(0o600)
    return path


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (packages and archives can be large)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fsync(path: Path) -> None:
    """Force a file's data, or a directory's entries (a rename into it), onto the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
