"""What every source module shares: loading a file once, matching headers, and turning a table
of original columns into the canonical model (see :mod:`workbench.ingest.model`)."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.configuration import ConfigError
from workbench.errors import InputError
from workbench.ingest import headers, identifiers, tabular
from workbench.ingest.model import (
    DOCUMENT_COLUMNS,
    FIELDS,
    IDENTIFIER_COLUMNS,
    IDENTIFIER_KINDS,
    PARTY_COLUMNS,
    ExportKind,
    Extract,
)


@dataclass
class Loaded:
    """A file read once and shared by every module's ``detect`` and ``read``."""

    path: Path
    data: bytes = field(repr=False)
    format: str  # "csv", "xlsx", "xml", "json" or "mt940"

    @cached_property
    def text(self) -> str:
        return tabular.decode(self.path, self.data)

    @cached_property
    def table(self) -> pd.DataFrame:
        """CSV or XLSX as a table of strings indexed by spreadsheet row."""
        if self.format == "xlsx":
            return tabular.check_table_size(self.path, tabular.read_xlsx(self.path, self.data))
        table = tabular.read_csv_text(self.path, self.text)
        del self.text  # the table replaces it; a later use decodes the bytes again
        return tabular.check_table_size(self.path, table)

    @cached_property
    def columns(self) -> list[str]:
        return list(self.table.columns) if self.format in ("csv", "xlsx") else []

    @cached_property
    def json(self) -> object:
        """The JSON document with every number as the text it was written as, so an
        identifier or amount keeps each digit (see :func:`parse_json`)."""
        return parse_json(self.path, self.text)


@lru_cache(maxsize=4)
def _load(path: Path, _stamp: tuple[int, int]) -> Loaded:
    data = tabular.read_bytes(path)
    kind = tabular.sniff_format(data)
    loaded = Loaded(path, data, "csv" if kind == "text" else kind)
    # nesting is checked before any module parses the file: a deep one exhausts a parser
    if loaded.format == "xml":
        tabular.check_xml_depth(path, data)
    elif loaded.format == "json":
        tabular.check_json_depth(path, loaded.text)
    return loaded


_HELD: dict[Path, Loaded] = {}

# Rows of files read together (many small exports with one header) are numbered
# ``file * FILE_STRIDE + row``, so each row still knows its file; one file's rows keep their numbers.
FILE_STRIDE = 1_000_000_000


@contextmanager
def held(path: Path | str) -> Iterator[Loaded]:
    """The file, read once and given to every :func:`load` of it inside the block, whatever
    happens to it on disk meanwhile: an import parses, hashes and keeps these same bytes."""
    with holding(load(path)) as loaded:
        yield loaded


@contextmanager
def holding(loaded: Loaded) -> Iterator[Loaded]:
    """Give ``loaded`` to every :func:`load` of its path inside the block (also a table made of
    several files' rows, see :data:`FILE_STRIDE`)."""
    _HELD[loaded.path] = loaded
    try:
        yield loaded
    finally:
        _HELD.pop(loaded.path, None)


def file_numbers(rows: pd.Index | pd.Series) -> np.ndarray:
    """The number of the file each row came from when files were read together (0 for one file)."""
    values = np.asarray(rows)
    if values.dtype.kind not in "iu":
        return np.zeros(len(values), dtype=np.int64)
    return values.astype(np.int64) // FILE_STRIDE


def release() -> None:
    """Forget the files read so far (their bytes and text); the next :func:`load` reads again."""
    _load.cache_clear()


def load(path: Path | str) -> Loaded:
    """The file at ``path``, read once per version of the file."""
    path = Path(path)
    real = Path(os.path.realpath(path))  # unlike Path.resolve, never fails on a symlink loop
    if real in _HELD:
        return _HELD[real]
    status = tabular.checked_stat(path)  # a pipe, device or huge file is refused unread
    return _load(real, (status.st_mtime_ns, status.st_size))


def resolve(
    path: Path,
    kind: ExportKind | None,
    detect: Callable[[Path, Path | None], ExportKind | None],
    service_title: str,
    kinds: list[ExportKind],
    formats: dict[str, tuple[str, ...]],
    mappings: headers.MappingsLike,
    mismatch: str = "is {upper}, not a {title}",
) -> tuple[Loaded, ExportKind]:
    """The file and the export it is: ``kind`` when given, else what ``detect`` finds.

    Refuses a file no kind fits and one whose container (CSV, XML, ...) the kind does not come
    in. ``mismatch`` words that refusal from ``{fmt}``, ``{upper}`` and ``{title}``: each
    service keeps the wording its tests pin."""
    loaded = load(path)
    kind = kind or detect(path, mappings)
    if kind is None:
        fitting = [k.title for k in kinds if loaded.format in formats[k.name]]
        article = "an" if service_title[:1] in "AEIOU" else "a"
        raise InputError(path, f"not recognised as {article} {service_title} export",
                         expected="one of: " + "; ".join(fitting or [k.title for k in kinds]))
    if loaded.format not in formats[kind.name]:
        problem = mismatch.format(fmt=loaded.format, upper=loaded.format.upper(), title=kind.title)
        raise InputError(path, problem, expected=" or ".join(f.upper() for f in formats[kind.name]))
    return loaded, kind


# --------------------------------------------------------------------------------------------
# tabular exports (CSV and XLSX with header synonyms)


def match_table(loaded: Loaded, service: str, mappings: headers.MappingsLike) -> headers.HeaderTable | None:
    """The service's export whose headers the file has, or None."""
    if loaded.format not in ("csv", "xlsx"):
        return None
    fitting = [
        t for t in headers.tables(service, mappings)
        if loaded.format in t.formats and not t.missing(loaded.columns)
    ]
    return max(fitting, key=lambda t: t.score(loaded.columns), default=None)


def table_kind(loaded: Loaded, service: str, mappings: headers.MappingsLike) -> ExportKind | None:
    """The service's tabular export the file is, by its header row, or None."""
    table = match_table(loaded, service, mappings)
    return table.kind if table else None


def table_for(kind: ExportKind, mappings: headers.MappingsLike) -> headers.HeaderTable:
    return next(t for t in headers.tables(kind.service, mappings) if t.kind == kind)


def required_table(loaded: Loaded, kind: ExportKind, mappings: headers.MappingsLike) -> headers.HeaderTable:
    """The export's synonym table, once the file's header has a column for every required field."""
    table = table_for(kind, mappings)
    mapped = set(table.column_map(loaded.columns).values())
    lacking = [f for f in table.required if f not in mapped]
    if lacking:
        raise InputError(loaded.path, f"has no column for {', '.join(lacking)}",
                         expected=f"the header row of a {kind.title}")
    return table


def canonical_frame(raw: pd.DataFrame, column_map: dict[str, str | None], path: Path) -> pd.DataFrame:
    """One column per canonical field found, typed; several source columns for one field are
    combined, the first non-empty value in column order winning."""
    out: dict[str, pd.Series] = {}
    for column, name in column_map.items():
        if name is None or name == headers.KNOWN_WITHOUT_FIELD:
            continue
        values = trimmed(raw[column])
        if name in out:
            out[name] = out[name].where(out[name].ne(""), values)
        else:
            out[name] = values
    frame = pd.DataFrame(out, index=raw.index)
    for name in list(frame.columns):
        typed = FIELDS[name].type
        source = next(c for c, f in column_map.items() if f == name)
        if typed == "date":
            frame[name] = tabular.parse_dates(frame[name], path, source)
        elif typed == "amount":
            frame[name] = tabular.parse_amounts(frame[name], path, source)
    return frame


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or empty text when the file has none (an optional element or header)."""
    return frame[name] if name in frame.columns else pd.Series("", index=frame.index, dtype="str")


def content_key(frame: pd.DataFrame, columns: Iterable[str], prefix: str = "h:") -> pd.Series:
    """A stable key made from the content of some columns, for records without a key of their
    own (a payment's consumer, a fee line)."""
    cols = [c for c in columns if c in frame.columns]
    if not cols or frame.empty:  # hashing no rows gives numbers, not text
        return pd.Series("", index=frame.index, dtype="str")
    # worked out once per distinct record (a consumer recurs on every payment) and the spacing
    # and case once per distinct value: 'NL91 ABNA ...' and 'nl91abna...' are one party
    codes = np.zeros(len(frame), dtype=np.int64)
    squeezed = {}
    for col in cols:
        column = pa.array(frame[col].astype("str"))
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        values = encoded.indices.to_numpy().astype(np.int64)
        squeezed[col] = (values, pc.utf8_lower(pc.replace_substring_regex(encoded.dictionary, _SPACE, "")))
        codes, _ = pd.factorize(codes * (len(encoded.dictionary) + 1) + values)
    first = np.flatnonzero(firsts(codes))  # of each record, in order
    text = pd.DataFrame({col: distinct.take(values[first]).to_pandas()
                         for col, (values, distinct) in squeezed.items()})
    hashed = _hex(prefix, pd.util.hash_pandas_object(text, index=False).to_numpy())
    keys = pc.if_else(pa.array(text.eq("").all(axis=1).to_numpy()), "", hashed)
    return text_column(keys.take(pa.array(codes)), frame.index)


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex(prefix: str, numbers: np.ndarray) -> pa.Array:
    """``prefix`` and each 64-bit number as 16 hexadecimal digits (``f"{n:016x}"``), written as
    bytes at once: a Python format per distinct record costs seconds on a webshop's payers."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    octets = numbers.astype(">u8").view(np.uint8).reshape(len(numbers), 8)
    out = np.empty((len(numbers), len(head) + 16), dtype=np.uint8)
    out[:, :len(head)] = head
    out[:, len(head)::2] = _HEX_DIGITS[octets >> 4]
    out[:, len(head) + 1::2] = _HEX_DIGITS[octets & 15]
    return pa.array(out.view(f"S{out.shape[1]}").ravel(), type=pa.binary()).cast(pa.string())


def text_column(values: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """Arrow text as a pandas text column on ``index``, without a Python object per value."""
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return chunked.to_pandas().set_axis(index)


# Every character Python's ``\s`` and ``str.strip`` take for spacing (all below U+3000; the same
# set as Arrow's utf8_trim_whitespace), for Arrow's regular expressions, whose ``\s`` is ASCII
_SPACE_CHAR = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in tabular.SPACING) + "]"
_SPACE = _SPACE_CHAR + "+"


def trimmed(values: pd.Series) -> pd.Series:
    """Text without surrounding spacing, missing values empty; the column as it is when no value
    needs trimming, which spares a copy of a million values."""
    text = values.fillna("").astype("str")
    column = pa.array(text)  # trimming the very characters str.strip takes, far faster than a regex
    edges = pc.not_equal(pc.utf8_trim(column, characters=tabular.SPACING), column)
    return text.str.strip() if pc.any(edges).as_py() else text


# A row without a key of its own is one party with the rows whose personal columns are all equal:
# two people with the same name and postcode but another street or birth date stay two parties
PARTY_KEY_CONTENT = [f.name for f in FIELDS.values()
                     if f.table == "party" and f.personal and f.name != "party_key"]


def split(canon: pd.DataFrame, doc_type: str | pd.Series = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical columns as parties and documents, one of each per source row.

    A party without a key of its own (customer number or system id) gets one from its content,
    so the same consumer on many payments is one party; its documents point at that key.
    """
    party_cols = [c for c in canon.columns if FIELDS[c].table == "party"]
    doc_cols = [c for c in canon.columns if FIELDS[c].table == "document"]
    parties = canon[party_cols].copy()
    if "party_key" not in parties.columns:
        parties["party_key"] = parties.get("customer_number", pd.Series("", index=canon.index))
    parties["party_key"] = parties["party_key"].where(
        parties["party_key"].ne(""), content_key(parties, PARTY_KEY_CONTENT)
    )
    if "party_type" not in parties.columns:
        parties["party_type"] = party_type(parties)
    # a party-only export (contacts) has no documents, not one empty document per row
    documents = canon[doc_cols].copy() if doc_cols else canon.iloc[:0, :0].copy()
    if doc_cols:
        documents["party_key"] = parties["party_key"]
        documents["doc_type"] = doc_type
    return parties, documents


def party_type(parties: pd.DataFrame) -> pd.Series:
    """'person' when a first or last name is known, 'organisation' when only a company is."""
    def present(name: str) -> pd.Series:
        values = parties.get(name, pd.Series("", index=parties.index))
        return values.notna() & values.astype("str").ne("")  # NaT is no birth date

    person = present("given_name") | present("family_name") | present("birth_date")
    organisation = present("company") & ~person
    kind = pd.Series("unknown", index=parties.index, dtype="str")
    return kind.mask(person, "person").mask(organisation, "organisation")


def read_tabular(loaded: Loaded, table: headers.HeaderTable, doc_type: str = "") -> Extract:
    """A CSV or XLSX export through its header table into the canonical model."""
    raw = loaded.table
    column_map = table.column_map(list(raw.columns))
    canon = canonical_frame(raw, column_map, loaded.path)
    parties, documents = split(canon, doc_type)
    return finish(table.kind, raw, parties, documents, column_map)


# --------------------------------------------------------------------------------------------
# JSON dumps


def json_records(loaded: Loaded, *wrappers: str) -> list[dict] | None:
    """The list of API objects in a dump: a plain list, OData ``{"d": {"results": []}}``, one
    OData entity ``{"d": {...}}`` or ``{"value": []}``, or a HAL list
    ``{"_embedded": {"<wrapper>": []}}``."""
    obj = loaded.json
    if isinstance(obj, dict) and set(obj) == {"d"}:
        obj = obj["d"]
        if isinstance(obj, dict) and isinstance(obj.get("results"), list):
            obj = obj["results"]
        elif isinstance(obj, dict):
            obj = [obj]
    elif isinstance(obj, dict) and "_embedded" in obj:
        embedded = obj["_embedded"] if isinstance(obj["_embedded"], dict) else {}
        obj = next((embedded[w] for w in wrappers if w in embedded), None)
    elif isinstance(obj, dict) and isinstance(obj.get("value"), list):
        obj = obj["value"]
    elif isinstance(obj, dict):
        obj = [obj]
    if isinstance(obj, list) and obj and all(isinstance(o, dict) for o in obj):
        return obj
    return None


def flatten(records: list[dict]) -> pd.DataFrame:
    """API objects as a table of strings, nested keys joined with dots, lists kept as JSON text,
    rows numbered from 1. Each value is the text the file holds: no column goes through a float
    (pandas' ``json_normalize`` turns whole numbers in a column with gaps into ``1.5e+17``)."""
    rows = [dict(flat_items(record)) for record in records]
    frame = pd.DataFrame(rows, dtype="object").fillna("").astype("str")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def flat_items(obj: dict, prefix: str = "") -> Iterable[tuple[str, str]]:
    """One API object's values as text, nested keys joined with dots (see :func:`flatten`)."""
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flat_items(value, name + ".")
        else:
            yield name, as_text(value)


def as_text(value: object) -> str:
    """One JSON value as text: a number as written, true/false as ``True``/``False`` (as they
    always were here), null as empty, a list or object as JSON."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return _dumps(value)
    return str(value)


def _dumps(value: object) -> str:
    """JSON text with each number written as the file wrote it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dumps(v) for v in value) + "]"
    return str(value) if isinstance(value, Number) else json.dumps(value)


# A JSON number longer than this is no identifier or amount of any service read here (nesting
# is limited before parsing: ``tabular.check_json_depth``).
MAX_NUMBER_CHARS = 100


class Number(str):
    """A JSON number exactly as the file writes it (``246813579012345678``, ``100.0``): never
    a float, which would keep 17 digits at most."""


class _BadNumber(ValueError):
    pass


def _number(text: str) -> Number:
    if len(text) > MAX_NUMBER_CHARS:
        raise _BadNumber(f"a number of {len(text)} characters")
    return Number(text)


def _constant(name: str) -> None:
    raise _BadNumber(f"{name}, which is no JSON number")


def parse_json(path: Path, text: str) -> object:
    """A JSON document, every number a :class:`Number`; refused with the line when it is no
    JSON or holds ``NaN``, ``Infinity`` or a number of more than ``MAX_NUMBER_CHARS``."""
    try:
        return json.loads(text, parse_float=_number, parse_int=_number, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg})", row=exc.lineno,
                         expected="a JSON dump of API objects") from None
    except _BadNumber as exc:
        raise InputError(path, f"holds {exc}", row=_number_line(text),
                         expected=f"finite numbers of at most {MAX_NUMBER_CHARS} characters") from None


def api_fields(file_name: str) -> dict[str, dict]:
    """The reviewed field names of a service's API objects (``config/headers/<file_name>``):
    per table its keys, with ``names`` added, each listed name mapped to its canonical field
    (``other`` for the ones listed under ``other``). Every table must say what it rests on."""
    where = f"workbench/config/headers/{file_name}"
    text = (resources.files("workbench") / "config" / "headers" / file_name).read_text("utf-8")
    tables = tomllib.loads(text)
    for name, table in tables.items():
        fields = table.get("fields", {})
        unknown = sorted(f for f in fields if f not in FIELDS)
        if unknown or not table.get("evidence"):
            raise ConfigError([f"{where}: {name}: needs evidence and canonical fields (not {unknown})"])
        names = {n: f for f, listed in fields.items() for n in listed}
        table["names"] = names | dict.fromkeys(table.get("other", []), headers.KNOWN_WITHOUT_FIELD)
    return tables


def _number_line(text: str) -> int | None:
    """The line of the first over-long number or NaN/Infinity outside the strings, for the
    message (a string's text is blanked, its line breaks kept)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: "\n" * m.group().count("\n"), text)
    found = re.search(rf"[-+\d.eE]{{{MAX_NUMBER_CHARS + 1},}}|\b(?:NaN|-?Infinity)\b", bare)
    return bare.count("\n", 0, found.start()) + 1 if found else None


# --------------------------------------------------------------------------------------------
# the canonical projection


def finish(
    kind: ExportKind,
    raw: pd.DataFrame,
    parties: pd.DataFrame,
    documents: pd.DataFrame,
    column_map: dict[str, str | None],
    keep_bytes: bytes | None = None,
) -> Extract:
    """Complete the canonical tables, normalise identifiers, and collect every identifier value
    with the column it came from. ``parties`` and ``documents`` are indexed by source row."""
    keys = _completed(parties, "party_key")
    kept = keys.ne("") & _has_content(parties)
    known: dict[str, dict] = {}  # each distinct value is checked once per kind in this file
    keyed = keys[kept]
    owners = combined_codes(keyed, file_numbers(keyed.index))  # a party: its key in its file
    ids = _identifiers(raw, keyed, owners, column_map, known)
    # one party per key (and file, when files are read together), its first row: completed after
    # that, not for every payment
    first = keyed.index[firsts(owners)]
    parties = _complete(parties.loc[first], PARTY_COLUMNS)
    for name in IDENTIFIER_KINDS:
        if name in parties.columns and parties[name].ne("").any():
            normal, valid = identifiers.normalise_column(parties[name], name, known.setdefault(name, {}))
            parties[name] = normal.where(valid | normal.eq(""), parties[name])
    documents = _complete(documents, DOCUMENT_COLUMNS)
    keyless = documents["doc_key"].eq("")
    if keyless.any():
        content = documents.loc[keyless, ["date", "amount", "description", "reference"]].astype("str")
        # a date prints the way its whole column does (without times when none has one)
        content["date"] = documents["date"].astype("str")[keyless]
        documents.loc[keyless, "doc_key"] = content_key(content, content.columns, prefix="d:")
    return Extract(kind, raw, parties, documents, column_map, ids, keep_bytes)


def _has_content(parties: pd.DataFrame) -> pd.Series:
    """Whether a row holds anything besides its key and type, as its completed columns tell."""
    content = pd.Series(False, index=parties.index)
    # typed columns first: an absent date (NaT) is never "", which settles it for every row at once
    for name in sorted(PARTY_COLUMNS, key=lambda name: FIELDS[name].type not in ("date", "amount")):
        if name not in ("party_type", "party_key") and not content.all():
            content |= _completed(parties, name).ne("")
    return content


def _complete(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({name: _completed(frame, name) for name in columns}, index=frame.index)
    out["source_row"] = frame.index.astype("int64")
    return out


def _completed(frame: pd.DataFrame, name: str) -> pd.Series:
    """One canonical column as the tables hold it: typed, text trimmed, an absent one empty."""
    typed = FIELDS[name].type if name in FIELDS else "text"
    if name not in frame.columns:
        holder = pd.DataFrame(index=frame.index)
        holder[name] = pd.NaT if typed == "date" else float("nan") if typed == "amount" else ""
        values = holder[name]
    elif typed in ("text", "identifier"):
        values = trimmed(frame[name])
    else:
        values = frame[name]
    if typed == "date":
        return pd.to_datetime(values).astype("datetime64[us]")
    if typed == "amount":
        return pd.to_numeric(values).astype("float64")
    return values


def _identifiers(raw: pd.DataFrame, party_keys: pd.Series, owners: np.ndarray,
                 column_map: dict[str, str | None], known: dict[str, dict]) -> pd.DataFrame:
    """One row per party, identifier column and value, its first; ``owners`` numbers each party
    (see :func:`combined_codes`) in the order of ``party_keys``."""
    # the parties' rows of the raw table and their keys, worked out once for every identifier column
    where = raw.index.get_indexer(party_keys.index)
    taken = np.flatnonzero(where >= 0)
    taken = taken[np.argsort(where[taken], kind="stable")]
    positions, owners = where[taken], owners[taken]
    keys = party_keys.iloc[taken].set_axis(raw.index[positions])
    parts = []
    for column, name in column_map.items():
        if name not in IDENTIFIER_KINDS:
            continue
        values = raw[column].iloc[positions].fillna("").astype("str")
        filled = pc.not_equal(pc.utf8_trim(pa.array(values), characters=tabular.SPACING), "")
        # a consumer's IBAN recurs on every payment: one row per party and value, the first
        wanted = filled.to_numpy(zero_copy_only=False) & firsts(combined_codes(owners, values))
        values = values[wanted]
        kinds = pd.Series(name, index=values.index, dtype="str")
        if name == "iban":  # Mollie puts a PayPal payer's e-mail where others have an IBAN
            kinds = kinds.mask(values.str.contains("@", regex=False), "email")
        for kind in kinds.unique():
            part = kinds.eq(kind).to_numpy()
            parts.append(_identifier_rows(values[part], keys[wanted][part], column, kind,
                                          known.setdefault(kind, {})))
    if not parts:
        return pd.DataFrame(columns=[*IDENTIFIER_COLUMNS, "source_row"])
    ids = pd.concat(parts)
    # only masked card numbers repeat here ('**** 1234' of two cards): every other kind's rows are
    # one per party and value of their column already
    if ids["kind"].eq("card_number").any():
        ids = ids[firsts(combined_codes(ids["party_key"], ids["column"], ids["raw_value"],
                                        file_numbers(ids["source_row"])))]
    return ids.reset_index(drop=True)


def combined_codes(*columns: pd.Series | np.ndarray) -> np.ndarray:
    """A number per row for its combination of values in ``columns``, numbered in order of first
    appearance: from each column's codes, not by hashing rows of text."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for values in columns:
        numbers, distinct = pd.factorize(values, use_na_sentinel=False)
        combined, _ = pd.factorize(combined * (len(distinct) + 1) + numbers)
    return combined


def firsts(codes: np.ndarray) -> np.ndarray:
    """Whether each row is the first with its code (what ``duplicated`` says, negated)."""
    return ~pd.Series(codes).duplicated().to_numpy()


def _identifier_rows(values: pd.Series, party_keys: pd.Series, column: str, name: str,
                     known: dict) -> pd.DataFrame:
    normal, valid = identifiers.normalise_column(values, name, known)
    stored_raw = normal if name == "card_number" else values  # never keep a full card number
    return pd.DataFrame({
        "party_key": party_keys, "column": column, "kind": name,
        "raw_value": stored_raw, "value": normal, "valid": valid,
        "source_row": values.index.astype("int64"),
    })
