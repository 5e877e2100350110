"""Reading what real export files look like into tables of text, and parsing their values.

Exports come as UTF-8 with or without BOM, UTF-16 (Exact Online list views) or cp1252; with
``,``, ``;`` or tab between fields; with Dutch or English numbers and dates; with blank trailing
rows and repeated header rows. Everything here works on whole columns (no per-row Python loop on
the import path) and raises :class:`~workbench.errors.InputError` naming file, row and column.

Row numbers are the ones a user sees in a spreadsheet: the header is row 1 of a CSV.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from workbench.errors import InputError

DELIMITERS = [",", ";", "\t"]
_QUOTED = re.compile(r'"[^"]*"')


# --------------------------------------------------------------------------------------------
# bytes -> text


def read_bytes(path: Path) -> bytes:
    """The file's bytes, with the problems a user can make named in plain words."""
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory", expected="an exported file")
    data = path.read_bytes()
    if not data[:65536].strip() and not data.strip():  # a look at the start settles most files
        raise InputError(path, "the file is empty", expected="an export with a header row")
    return data


def sniff_format(data: bytes) -> str:
    """'xlsx', 'xml', 'json', 'mt940' or 'text' (CSV), judged from the content only."""
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = _decode_head(data).lstrip("\ufeff \r\n\t")
    if head.startswith("<"):
        return "xml"
    if head.startswith(("{", "[")):
        return "json"
    if head.startswith((":20:", "{1:")):
        return "mt940"
    return "text"


def _decode_head(data: bytes) -> str:
    head = data[:4096]
    for encoding in ("utf-16", "utf-8") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8",):
        try:
            return head.decode(encoding, errors="ignore")
        except UnicodeError:
            continue
    return head.decode("latin-1")


def decode(path: Path, data: bytes) -> str:
    """Text of a CSV/XML/JSON export: UTF-16 (BOM), UTF-8 (BOM or not) or cp1252, sniffed."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(path, f"unreadable UTF-16 at byte {exc.start}") from None
    if b"\x00" in data:
        raise InputError(path, "binary content", expected="a CSV, XLSX, XML, JSON or MT940 export")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            path, f"unreadable encoding (byte 0x{data[exc.start]:02x})", row=line,
            expected="UTF-8, UTF-16 or Windows-1252 text",
        ) from None


# --------------------------------------------------------------------------------------------
# text -> table of strings


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line into the most fields."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def read_csv_text(path: Path, text: str) -> pd.DataFrame:
    """A CSV export as a table of strings, header from its first non-empty line.

    Blank rows and repeated header rows are dropped; a row with more or fewer fields than the
    header is an error. The index holds the spreadsheet row numbers.
    """
    text = text.lstrip("\ufeff")
    frame = _read_csv_arrow(text)
    if frame is None:
        frame = _read_csv_pandas(path, text)
    return drop_noise_rows(frame)


_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\r|\n))*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _read_csv_arrow(text: str) -> pd.DataFrame | None:
    """The CSV read by Arrow's multi-threaded parser, or None for a file it would read otherwise
    than :func:`_read_csv_pandas` (ragged or blank rows, unnamed or repeated headers, rare line
    breaks): that reader then reads it, and names the row that is wrong."""
    blank = _LEADING_BLANK_LINES.match(text)
    body = text[blank.end():]  # blank lines at the end read as empty rows, dropped as noise
    end = _LINE_BREAK.search(body)
    header_line = body[: end.start() if end else len(body)]
    if not header_line.strip() or any(c in body for c in _OTHER_LINE_BREAKS):
        return None
    delimiter = sniff_delimiter(header_line)
    names = next(csv.reader([header_line], delimiter=delimiter))
    if len(set(names)) < len(names) or "" in names:
        return None
    invalid = []
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body.encode("utf-8")),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                newlines_in_values=True, ignore_empty_lines=False,
                invalid_row_handler=lambda row: invalid.append(row) or "skip"),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid:
        return None
    if invalid or table.column_names != names or any(t != pa.string() for t in table.schema.types):
        return None
    # a line break inside a quoted value reads as "\n", whatever the file's line ends are
    table = pa.table({n: pc.replace_substring_regex(table[n], "\r\n?", "\n")
                      if pc.any(pc.match_substring(table[n], "\r")).as_py() else table[n] for n in names})
    frame = table.to_pandas()
    frame.columns = [c.strip() for c in names]
    first = len(_LINE_BREAK.findall(blank.group()))
    frame.index = pd.RangeIndex(first + 2, first + 2 + len(frame))
    return frame


def _read_csv_pandas(path: Path, text: str) -> pd.DataFrame:
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError(path, "the file is empty", expected="an export with a header row")
    delimiter = sniff_delimiter(lines[first])
    body = "\n".join(lines[first:])
    try:
        frame = pd.read_csv(
            io.StringIO(body), sep=delimiter, dtype=str, keep_default_na=False,
            skip_blank_lines=False, quotechar='"', engine="c",
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = match.groups()
            raise InputError(
                path, f"has {saw} fields", row=int(line) + first,
                expected=f"{expected} fields like the header",
            ) from None
        raise InputError(path, f"not a readable CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(first + 2, first + 2 + len(frame))
    _check_short_rows(path, body, delimiter, len(frame.columns), first)
    return frame


def _check_short_rows(path: Path, body: str, delimiter: str, width: int, offset: int) -> None:
    """Fail on a row with fewer fields than the header (pandas pads those silently).

    Quoted fields are blanked first, so delimiters and line breaks inside them do not count;
    then each record's delimiters are counted at once, without a Python loop over rows."""
    records = pd.Series(_QUOTED.sub('""', body).split("\n"))
    counts = records.str.count(re.escape(delimiter)) + 1
    short = counts[(counts < width) & records.str.strip().ne("")]
    if not short.empty:
        index = int(short.index[0])
        raise InputError(
            path, f"has {int(short.iloc[0])} fields", row=index + offset + 1,
            expected=f"{width} fields like the header",
        )


def drop_noise_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop blank rows and rows that repeat the header (exports glued together)."""
    if frame.empty:
        return frame
    # only a row whose first cell is empty or the first header can be noise: look at those alone
    header = pd.Series([str(c).strip() for c in frame.columns], index=frame.columns)
    first = frame.iloc[:, 0].astype("str").str.strip()
    suspect = frame[first.isin(["", "nan", "None", "NaT", header.iloc[0]]).to_numpy()]
    text = suspect.astype("str").apply(lambda col: col.str.strip())
    blank = text.eq("").all(axis=1) | text.isin(["nan", "None", "NaT"]).all(axis=1)
    repeated = text.eq(header, axis=1).all(axis=1)
    noise = suspect.index[(blank | repeated).to_numpy()]
    return frame.drop(index=noise) if len(noise) else frame


def read_xlsx(path: Path, data: bytes) -> pd.DataFrame:
    """The first sheet of an XLSX export as a table of strings (dates kept as ISO text)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
        if bad:
            raise zipfile.BadZipFile(bad)
        raw = pd.read_excel(io.BytesIO(data), sheet_name=0, header=None, dtype=object,
                            engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable XLSX workbook ({type(exc).__name__})",
                         expected="a complete .xlsx file as the service exports it") from None
    raw = raw.dropna(how="all").dropna(axis=1, how="all")
    if raw.empty:
        raise InputError(path, "the workbook's first sheet is empty",
                         expected="an export with a header row")
    header_row = raw.index[0]
    columns = [_cell_text(v).strip() for v in raw.loc[header_row]]
    body = raw.loc[raw.index > header_row].map(_cell_text)
    body.columns = columns
    body.index = body.index + 1  # spreadsheet rows count from 1
    return drop_noise_rows(body)


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp | __import__("datetime").datetime):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------------------------
# values


_AMOUNT_JUNK = re.compile(r"[€$£\s\u00a0']|EUR|USD|GBP", re.IGNORECASE)
_COMMA_DECIMAL = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*,\d+$|^[-+]?\d+,\d{1,2}$|^[-+]?\d+,\d{4,}$")
_DOT_DECIMAL = re.compile(r"^[-+]?\d{1,3}(,\d{3})*\.\d+$|^[-+]?\d+\.\d{1,2}$|^[-+]?\d+\.\d{4,}$")
_PLAIN = re.compile(r"^[-+]?\d+$")


def parse_amounts(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Amounts like ``1.234,56``, ``1,234.56``, ``€ 12,50``, ``-2.88`` or ``(5,00)`` as floats.

    A column's decimal mark is decided from its unambiguous values, so ``1.234`` means 1234 in a
    Dutch column and 1.234 in an English one. Empty cells give NaN; anything else is an error.
    Each distinct text is parsed once (a price recurs on many payments).
    """
    codes, distinct = pd.factorize(values.astype("str"), use_na_sentinel=False)
    counts = np.bincount(codes, minlength=len(distinct))
    text = pd.Series(distinct, dtype="str").str.strip()
    text = text.where(~text.isin(["nan", "None"]), "")
    negative_parens = text.str.match(r"^\(.*\)$")
    text = text.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.replace(_AMOUNT_JUNK, "", regex=True)
    trailing_minus = text.str.endswith("-") & text.str.len().gt(1)
    text = text.where(~trailing_minus, "-" + text.str[:-1])
    text = text.str.replace(r"^([-+])(.*)$", r"\1\2", regex=True)
    comma = text.str.match(_COMMA_DECIMAL)
    dot = text.str.match(_DOT_DECIMAL)
    comma_column = counts[comma.to_numpy(bool)].sum() >= counts[dot.to_numpy(bool)].sum() and comma.any()
    if comma_column:
        normal = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        normal = text.str.replace(",", "", regex=False)
    numbers = pd.to_numeric(normal.where(text.ne(""), None), errors="coerce")
    bad = (numbers.isna() & text.ne("")).to_numpy(bool)[codes]
    if bad.any():
        row = values.index[bad.argmax()]
        raise InputError(path, "not an amount", row=int(row), column=column,
                         expected="an amount like 1.234,56 or 1,234.56")
    numbers = numbers.where(~negative_parens, -numbers).round(2).astype("float64")
    return pd.Series(numbers.to_numpy()[codes], index=values.index, dtype="float64")


_DATE_FORMATS = [
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
    "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d",
]


def parse_dates(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Dates as naive timestamps (Europe/Amsterdam wall clock).

    Accepts ``dd-mm-jjjj`` with or without time, ISO 8601 with or without offset, OData
    ``/Date(ms)/``, and Excel serial day numbers. Each format is tried on the whole column;
    empty cells give NaT; anything left over is an error naming the row.
    """
    text = values.astype("str").str.strip()
    text = text.where(~text.isin(["nan", "None", "NaT"]), "")
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    todo = text.ne("")
    for fmt in _likely_first(text[todo]):
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        result.loc[parsed.dropna().index] = parsed.dropna()
        todo &= result.isna()
    if todo.any():
        result = _parse_special_dates(text, todo, result)
        todo &= result.isna()
    if todo.any():
        row = todo.idxmax()
        raise InputError(path, "not a date", row=int(row), column=column,
                         expected="a date like 31-01-2026, 2026-01-31 or 31-01-2026 14:05")
    return result


def _likely_first(text: pd.Series) -> list[str]:
    """The formats, those that fit a sample of the column first: a column holds one format, and a
    failed attempt costs as much as a successful one. No value fits two of the formats, so the
    order changes the time only, never the result."""
    sample = text.iloc[:: max(len(text) // 200, 1)]
    fits = {fmt: pd.to_datetime(sample, format=fmt, errors="coerce").notna().sum() for fmt in _DATE_FORMATS}
    return sorted(_DATE_FORMATS, key=lambda fmt: -fits[fmt])


def _parse_special_dates(text: pd.Series, todo: pd.Series, result: pd.Series) -> pd.Series:
    part = text[todo]
    # An offset (or Z) means a moment; show it on the Dutch wall clock. No offset: as written.
    has_offset = part.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    aware = pd.to_datetime(part[has_offset], format="ISO8601", errors="coerce", utc=True)
    aware = aware.dt.tz_convert("Europe/Amsterdam").dt.tz_localize(None)
    naive = pd.to_datetime(part[~has_offset], format="ISO8601", errors="coerce")
    iso = pd.concat([aware.astype("datetime64[us]"), naive.astype("datetime64[us]")]).reindex(part.index)
    odata = part.str.extract(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")[0]
    odata = pd.to_datetime(pd.to_numeric(odata, errors="coerce"), unit="ms", errors="coerce")
    serial = pd.to_numeric(part.where(part.str.fullmatch(r"\d{4,5}(\.\d+)?")), errors="coerce")
    serial = pd.to_datetime(serial, unit="D", origin="1899-12-30", errors="coerce")
    combined = iso.combine_first(odata).combine_first(serial)
    result.loc[combined.dropna().index] = combined.dropna().astype("datetime64[us]")
    return result
