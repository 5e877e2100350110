"""Reading what real export files look like into tables of text, and parsing their values.

Exports come as UTF-8 with or without BOM, UTF-16 (some accounting list views) or cp1252; with
``,``, ``;`` or tab between fields; with Dutch or English numbers and dates; with blank trailing
rows and repeated header rows. Everything here works on whole columns (no per-row Python loop on
the import path) and raises :class:`~workbench.errors.InputError` naming file, row and column.

Row numbers are the ones a user sees in a spreadsheet: the header is row 1 of a CSV.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import os
import re
import stat
import zipfile
from pathlib import Path
from xml.parsers import expat

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from workbench.errors import InputError
from workbench.ingest import limits

DELIMITERS = [",", ";", "\t"]
_QUOTED = re.compile(r'"[^"]*"')


# --------------------------------------------------------------------------------------------
# bytes -> text


def checked_stat(path: Path) -> os.stat_result:
    """The status of the regular file ``path`` points at (symlinks followed), refused without a
    read when it is missing, a directory, anything but a regular file (a FIFO would block, a
    device never ends) or larger than the ``max_bytes`` limit."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({type(exc).__name__})",
                         expected="an exported file you may read") from None
    if stat.S_ISDIR(status.st_mode):
        raise InputError(path, "is a directory", expected="an exported file")
    if not stat.S_ISREG(status.st_mode):
        raise InputError(path, "is not a regular file (a pipe, device or socket); refused unread",
                         expected="an exported file saved on disk")
    if status.st_size > limits.current().max_bytes:
        raise limits.refuse(path, "the file's size in bytes", status.st_size, "max_bytes")
    return status


def read_bytes(path: Path) -> bytes:
    """The file's bytes, read once, with the problems a user can make named in plain words.

    The file is opened without blocking (a FIFO swapped in after the check cannot hang the
    import) and refused when it changes while it is read: what is parsed is then exactly what is
    hashed and kept."""
    before = checked_stat(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be opened ({type(exc).__name__})",
                         expected="an exported file you may read") from None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode) or _identity(opened) != _identity(before):
            raise InputError(path, "was replaced while it was opened", expected="a file that stays put")
        try:
            data = _read_all(handle, opened.st_size)
        except OSError as exc:
            raise InputError(path, f"cannot be read ({type(exc).__name__})",
                             expected="a complete file on a readable disk") from None
        after = os.fstat(handle.fileno())
    if len(data) != opened.st_size or _version(after) != _version(opened):
        raise InputError(path, "changed while it was read",
                         expected="a file no other program writes during the import")
    if not data[:65536].strip() and not data.strip():  # a look at the start settles most files
        raise InputError(path, "the file is empty", expected="an export with a header row")
    return data


def _read_all(handle: io.BufferedReader, size: int) -> bytes:
    """The file's ``size`` bytes plus one, if there is one more (then it grew)."""
    return handle.read(size + 1)


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _version(status: os.stat_result) -> tuple[int, int]:
    return status.st_size, status.st_mtime_ns


def sniff_format(data: bytes) -> str:
    """'xlsx', 'xml', 'json', 'mt940' or 'text' (CSV), judged from the content only."""
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = _decode_head(data).lstrip("\ufeff \r\n\t")
    if head.startswith("<"):
        return "xml"
    if _MT940_START.match(head):
        return "mt940"
    if head.startswith(("{", "[")):
        return "json"
    return "text"


# An MT940 statement: ``:20:`` first, or after a SWIFT block header ({1:...}{2:...}{4:), ABN
# AMRO's ``ABNANL2A``/``940`` lines, ING's ``0000 01INGB...``/``940 00`` or Rabobank's ``:940:``:
# a few short lines without the delimiters a CSV header has, then ``:20:`` and ``:25:``.
_MT940_START = re.compile(r"\{1:|:20:|(?:[^,;\t\r\n]{0,40}\r?\n){1,6}:20:[^\n]*\r?\n(?:[^\n]*\n){0,3}?:25:")


def _decode_head(data: bytes) -> str:
    head = data[:4096]
    for encoding in ("utf-16", "utf-8") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8",):
        try:
            return head.decode(encoding, errors="ignore")
        except UnicodeError:
            continue
    return head.decode("latin-1")


def decode(path: Path, data: bytes) -> str:
    """Text of a CSV/XML/JSON export: UTF-16 (BOM), UTF-8 (BOM or not) or cp1252, sniffed.

    A UTF-8 file with a few Windows-1252 bytes (one value pasted from an old program) keeps its
    UTF-8: only those bytes are read as Windows-1252, never the whole file, which would turn
    every accented name into mojibake."""
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
    if _UTF8_SEQUENCE.search(data):
        return _mixed(path, data)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _unreadable(path, data, exc.start) from None


# a multi-byte UTF-8 character: a file holding one is UTF-8, whatever else it holds
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_ESCAPED = re.compile("[\udc80-\udcff]+")


def _mixed(path: Path, data: bytes) -> str:
    """UTF-8 text whose stray bytes (kept by ``surrogateescape``) are read as Windows-1252."""
    text = data.decode("utf-8-sig", errors="surrogateescape")

    def windows(match: re.Match) -> str:
        raw = bytes(ord(c) - 0xDC00 for c in match.group())
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            offset = len(text[: match.start()].encode("utf-8", errors="surrogateescape"))
            raise _unreadable(path, data, offset) from None

    return _ESCAPED.sub(windows, text)


def _unreadable(path: Path, data: bytes, offset: int) -> InputError:
    line = data[:offset].count(b"\n") + 1
    return InputError(path, f"unreadable encoding (byte 0x{data[offset]:02x})", row=line,
                      expected="UTF-8, UTF-16 or Windows-1252 text")


# --------------------------------------------------------------------------------------------
# structure limits: JSON and XML nesting, table size


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def check_json_depth(path: Path, text: str) -> None:
    """Refuse JSON nested deeper than the ``max_json_depth`` limit, found before it is parsed
    (a deep document would exhaust the parser's stack): brackets inside strings do not count."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if not brackets:
        return
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    depth = int(np.cumsum(np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)).max())
    if depth > limits.current().max_json_depth:
        raise limits.refuse(path, "the JSON's nesting depth", depth, "max_json_depth")


def check_xml_depth(path: Path, data: bytes) -> None:
    """Refuse XML nested deeper than the ``max_xml_depth`` limit, found by a streaming pass of
    expat that builds nothing. A DTD ends the pass: the safe parser refuses those anyway."""
    limit = limits.current().max_xml_depth
    parser = expat.ParserCreate()
    depth = {"now": 0, "max": 0}

    def start(*_: object) -> None:
        depth["now"] += 1
        if depth["now"] > limit:
            raise _TooDeep

    def end(*_: object) -> None:
        depth["now"] -= 1

    def doctype(*_: object) -> None:
        raise _Stop

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except _TooDeep:
        raise limits.refuse(path, "the XML's nesting depth", limit + 1, "max_xml_depth") from None
    except (_Stop, expat.ExpatError):
        return


class _TooDeep(Exception):
    """Raised inside the expat pass when the nesting passes the limit."""


class _Stop(Exception):
    """Raised inside the expat pass to end it early."""


def check_table_size(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The table, refused when it has more rows or cells than the limits allow."""
    settings = limits.current()
    if len(frame) > settings.max_rows:
        raise limits.refuse(path, "the table's rows", len(frame), "max_rows")
    if frame.size > settings.max_cells:
        raise limits.refuse(path, "the table's cells", frame.size, "max_cells")
    return frame


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
    data = body.encode("utf-8")
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                newlines_in_values=True, ignore_empty_lines=False,
                invalid_row_handler=lambda row: invalid.append(row) or "skip"),
            convert_options=pa_csv.ConvertOptions(
                # the text type pandas keeps its text in: no copy of every column on the way over
                column_types=dict.fromkeys(names, pa.large_string()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid:
        return None
    if invalid or table.column_names != names or any(t != pa.large_string() for t in table.schema.types):
        return None
    # a line break inside a quoted value reads as "\n", whatever the file's line ends are
    if _cr_in_values(data, table.num_rows):
        table = pa.table({n: pc.replace_substring_regex(table[n], "\r\n?", "\n")
                          if pc.any(pc.match_substring(table[n], "\r")).as_py() else table[n] for n in names})
    del data
    frame = table.to_pandas()
    frame.columns = [c.strip() for c in names]
    first = len(_LINE_BREAK.findall(blank.group()))
    frame.index = pd.RangeIndex(first + 2, first + 2 + len(frame))
    return frame


def _cr_in_values(data: bytes, rows: int) -> bool:
    """Whether a value may hold a carriage return; not when each one is part of a CRLF and every
    line feed ends the header's or a row's line (most Windows exports): then no value is looked at."""
    if b"\r" not in data:
        return False
    return data.count(b"\r") != data.count(b"\r\n") or data.count(b"\n") != rows + data.endswith(b"\n")


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


# What str.strip takes for spacing: every character str.isspace calls one (U+3000 is the last).
SPACING = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def drop_noise_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop blank rows and rows that repeat the header (exports glued together)."""
    if frame.empty:
        return frame
    # only a row whose first cell is empty or the first header can be noise: look at those alone
    # (found in Arrow, whose calls cost microseconds where pandas' cost a millisecond: small files)
    first = pc.utf8_trim(pa.array(frame.iloc[:, 0].astype("str")), characters=SPACING)
    marks = pc.is_in(first, pa.array(["", "nan", "None", "NaT", str(frame.columns[0]).strip()]))
    if not pc.any(marks).as_py():
        return frame
    header = pd.Series([str(c).strip() for c in frame.columns], index=frame.columns)
    suspect = frame[marks.to_numpy(zero_copy_only=False)]
    text = suspect.astype("str").apply(lambda col: col.str.strip())
    blank = text.eq("").all(axis=1) | text.isin(["nan", "None", "NaT"]).all(axis=1)
    repeated = text.eq(header, axis=1).all(axis=1)
    noise = suspect.index[(blank | repeated).to_numpy()]
    return frame.drop(index=noise) if len(noise) else frame


def read_xlsx(path: Path, data: bytes) -> pd.DataFrame:
    """The first sheet of an XLSX export as a table of strings (dates kept as ISO text, numbers
    with every digit the cell holds).

    The zip directory is checked against the limits before the workbook is opened, and the rows
    are streamed and counted, so a small file that expands to millions of rows is refused before
    it fills the memory."""
    _check_expansion(path, data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
        if bad:
            raise zipfile.BadZipFile(bad)
        rows = _sheet_rows(path, data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable XLSX workbook ({type(exc).__name__})",
                         expected="a complete .xlsx file as the service exports it") from None
    width = max((len(r) for r in rows), default=0)
    raw = pd.DataFrame([list(r) + [""] * (width - len(r)) for r in rows], dtype="str",
                       index=pd.RangeIndex(1, len(rows) + 1))  # spreadsheet rows count from 1
    raw = raw[raw.ne("").any(axis=1)]
    raw = raw.loc[:, raw.ne("").any(axis=0)]
    if raw.empty:
        raise InputError(path, "the workbook's first sheet is empty",
                         expected="an export with a header row")
    columns = [v.strip() for v in raw.iloc[0]]
    body = raw.iloc[1:].copy()
    body.columns = columns
    return drop_noise_rows(body)


def _check_expansion(path: Path, data: bytes) -> None:
    """Refuse a workbook whose parts, as the zip directory lists them, expand beyond the limits."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable XLSX workbook ({type(exc).__name__})",
                         expected="a complete .xlsx file as the service exports it") from None
    settings = limits.current()
    if expanded > settings.max_xlsx_bytes:
        raise limits.refuse(path, "the workbook's uncompressed size in bytes", expanded, "max_xlsx_bytes")
    ratio = expanded / max(len(data), 1)
    if ratio > settings.max_xlsx_ratio:
        raise limits.refuse(path, "the workbook's expansion ratio (uncompressed to file size)",
                            round(ratio), "max_xlsx_ratio")


def _sheet_rows(path: Path, data: bytes) -> list[tuple[str, ...]]:
    """The first sheet's rows as text, streamed (read-only mode) and counted against the row and
    cell limits. The sheet's recorded dimensions are ignored: a writer may leave them wrong."""
    settings = limits.current()
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise KeyError("no sheet")
        sheet.reset_dimensions()
        rows, cells = [], 0
        for values in sheet.iter_rows(values_only=True):
            cells += len(values)
            if len(rows) >= settings.max_rows:
                raise limits.refuse(path, "the sheet's rows", len(rows) + 1, "max_rows")
            if cells > settings.max_cells:
                raise limits.refuse(path, "the sheet's cells", cells, "max_cells")
            rows.append(tuple(_cell_text(v) for v in values))
        return rows
    finally:
        book.close()


def _cell_text(value: object) -> str:
    """A cell as the text it shows, numbers with every digit: an integer as it is, a fraction in
    its shortest exact form, never in exponent notation."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, datetime.datetime | datetime.date):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
    if isinstance(value, datetime.time):
        return value.isoformat()
    if isinstance(value, float):
        text = format(decimal.Decimal(repr(value)), "f")
        return text[:-2] if text.endswith(".0") else text
    return str(value)


# --------------------------------------------------------------------------------------------
# values


_AMOUNT_JUNK = re.compile(r"[€$£\s\u00a0']|EUR|USD|GBP", re.IGNORECASE)
_COMMA_DECIMAL = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*,\d+$|^[-+]?\d+,\d{1,2}$|^[-+]?\d+,\d{4,}$")
_DOT_DECIMAL = re.compile(r"^[-+]?\d{1,3}(,\d{3})*\.\d+$|^[-+]?\d+\.\d{1,2}$|^[-+]?\d+\.\d{4,}$")
_PLAIN = re.compile(r"^[-+]?\d+$")
# the workspace keeps amounts as DECIMAL(18,2): 16 digits before the decimal mark
LARGEST_AMOUNT = 10.0**16


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
    # digits with at most one decimal mark: to_numeric alone would take 1e5, inf and NaN too
    plain = normal.str.fullmatch(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
    numbers = pd.to_numeric(normal.where(plain & text.ne(""), None), errors="coerce")
    bad = (numbers.isna() & text.ne("")).to_numpy(bool)[codes]
    if bad.any():
        row = values.index[bad.argmax()]
        raise InputError(path, "not an amount", row=int(row), column=column,
                         expected="an amount like 1.234,56 or 1,234.56")
    huge = (numbers.abs() >= LARGEST_AMOUNT).to_numpy(bool)[codes]
    if huge.any():
        row = values.index[huge.argmax()]
        raise InputError(path, "an amount beyond what the workspace keeps", row=int(row),
                         column=column,
                         expected=f"an amount below {LARGEST_AMOUNT:,.0f} (18 digits, 2 decimals)")
    numbers = numbers.where(~negative_parens, -numbers).round(2).astype("float64")
    return pd.Series(numbers.to_numpy()[codes], index=values.index, dtype="float64")


_DATE_FORMATS = [
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
    "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d",
]


_LAST_SERIAL = 73050  # 2099-12-31


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
    # Excel's day numbers of the years 1900 to 2099; a bare 99999 is no date
    serial = serial.where(serial.between(1, _LAST_SERIAL))
    serial = pd.to_datetime(serial, unit="D", origin="1899-12-30", errors="coerce")
    combined = iso.combine_first(odata).combine_first(serial)
    result.loc[combined.dropna().index] = combined.dropna().astype("datetime64[us]")
    return result
