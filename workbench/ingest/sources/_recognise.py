"""Recognising a tabular export from the columns it has, also when it has only some of them.

Exact Online lets a user pick the columns of a list, and the captions of the MoneyBird,
FactuurSturen and Exact list exports are inferred, so a real file often has a subset of the
columns a table expects. The rule, for a CSV or XLSX whose header fits no export completely:

* its first row must be a header: a caption shaped like an e-mail address, IBAN, date, number,
  Dutch postcode or (in a row where no caption is a known one) a person's name is a value, and
  the file is refused without showing it;
* an export is a candidate when the columns it knows give a name or an identifier
  (:data:`headers.IDENTIFYING_FIELDS`) and the document fields its reader needs, and (when the
  user did not name the service) it knows at least half the file's columns;
* each candidate scores a point per column it knows, plus :data:`headers.SIGNATURE_POINTS`
  when one of its own captions is there. Without ``--source`` the best must beat every other
  candidate by :data:`MARGIN` points; with ``--source SERVICE`` it must beat the rest of that
  service's exports. Otherwise the file is ambiguous and the message names the candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from workbench.errors import InputError
from workbench.ingest import discovery, headers, identifiers
from workbench.ingest.model import FIELDS
from workbench.ingest.sources._common import Loaded
from workbench.text import fold

MARGIN = 2  # points the best candidate needs over the runner-up when nobody named the service
MIN_SHARE = 0.5  # share of a file's columns a candidate must know when nobody named the service
MAX_VALUE = 100  # a longer caption is not checked for a value's shape (e-mail, IBAN, date, ...)

_NUMBER = re.compile(r"[-+\u2212]?[€$£]?\s*(?=\D*\d)[\d.,'\s]+(?:[-,.]{2}|%)?")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?\S*)?")
_POSTCODE = re.compile(r"[1-9]\d{3}\s?[A-Za-z]{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_IBAN = re.compile(r"[A-Za-z]{2}\d{2}[A-Za-z0-9 ]{10,34}")


def value_shape(caption: str) -> str | None:
    """What a caption looks like when it is a value rather than a column name, else None."""
    text = caption.strip()
    if len(text) > MAX_VALUE:
        return None
    if _EMAIL.fullmatch(text) and identifiers.email(text)[1]:
        return "an e-mail address"
    if _IBAN.fullmatch(text) and identifiers.NORMALISERS["iban"](text)[1]:
        return "an IBAN"
    if _DATE.fullmatch(text):
        return "a date"
    if _NUMBER.fullmatch(text):
        return "a number or amount"
    if _POSTCODE.fullmatch(text):
        return "a postcode"
    return None


def header_values(columns: list[str], known: set[str]) -> list[tuple[int, str]]:
    """The columns (numbered from 1) whose caption is a value, with what it looks like.

    A caption shaped like a person's name counts only when none of its words occurs in any
    caption the workbench knows and no caption of the row is a known one: 'Order Status' and
    'Newsletter Consent' next to 'Email' stay column names."""
    found = [(i, shape) for i, c in enumerate(columns, 1) if (shape := value_shape(str(c)))]
    if not any(headers.fold(c) in known for c in columns):
        vocabulary = _vocabulary()
        found += [(i, "a person's name") for i, c in enumerate(columns, 1)
                  if discovery.looks_like_name(str(c)) and not _words(str(c)) & vocabulary]
    return sorted(set(found))


def check_header(loaded: Loaded, known: set[str]) -> None:
    """Refuse a CSV or XLSX whose first row holds values, naming only column numbers."""
    if loaded.format not in ("csv", "xlsx"):
        return
    found = header_values(loaded.columns, known)
    if found:
        shown = ", ".join(f"column {i} looks like {shape}" for i, shape in found[:5])
        raise InputError(loaded.path, f"its first row holds values, not column names ({shown})",
                         row=1, expected="an export whose first row names its columns")


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z]+", fold(text).lower()) if len(w) > 1}


@cache
def _vocabulary() -> frozenset[str]:
    """Every word of every caption in the shipped synonym tables, and the detector's hints."""
    from workbench.ingest.sources import headers_services  # the package imports this module

    words: set[str] = set()
    for service in headers_services():
        for table in headers.builtin(service).values():
            for captions in table.columns.values():
                words.update(w for c in captions for w in _words(c))
    words.update(w for kind in discovery.KINDS for hint in kind.hints for w in _words(hint))
    return frozenset(words)


def known_captions(services: list[str], mappings: headers.MappingsLike) -> set[str]:
    """Every folded caption any table of these services knows."""
    return {name for s in services for t in headers.tables(s, mappings) for name in t.synonyms}


# --------------------------------------------------------------------------------------------
# scoring


@dataclass(frozen=True)
class Candidate:
    """One export a file's columns may be, and why."""

    table: headers.HeaderTable
    score: int
    known: int  # columns it knows
    identifying: tuple[str, ...]  # name and identifier fields the columns give
    signature: bool  # one of the export's own captions is among the columns

    def why(self, columns: int, runner_up: Candidate | None) -> str:
        next_best = (f"next best {runner_up.table.kind.key} with {runner_up.score}"
                     if runner_up else "no other export is a candidate")
        signature = " (one of its own captions among them)" if self.signature else ""
        return (f"chosen by its columns: {self.known} of {columns} known to "
                f"{self.table.kind.key}{signature}, giving {', '.join(self.identifying)}; "
                f"score {self.score}, {next_best}")


def candidates(loaded: Loaded, services: list[str], mappings: headers.MappingsLike,
               min_share: float) -> list[Candidate]:
    """The exports the columns may be, best first."""
    columns = loaded.columns
    found = []
    for service in services:
        for table in headers.tables(service, mappings):
            known = table.known(columns)
            identifying = table.identifying(columns)
            documents = [f for f in table.required if FIELDS[f].table == "document"]
            fields = set(table.column_map(columns).values())
            if (loaded.format in table.formats and identifying and len(known) >= min_share * len(columns)
                    and all(f in fields for f in documents)):
                found.append(Candidate(table, table.score(columns), len(known), tuple(identifying),
                                       table.signature(columns)))
    return sorted(found, key=lambda c: -c.score)


def choose(loaded: Loaded, services: list[str], mappings: headers.MappingsLike,
           named: bool) -> tuple[headers.HeaderTable, str] | None:
    """The export a partial header is, and why; None when no export is a candidate; refuses an
    ambiguous one. ``named``: the user named the service, so any lead wins and no share of
    columns is needed."""
    found = candidates(loaded, services, mappings, 0.0 if named else MIN_SHARE)
    if not found:
        return None
    best, rest = found[0], found[1:]
    margin = 1 if named else MARGIN
    close = [c for c in rest if best.score - c.score < margin]
    if close:
        names = ", ".join(f"{c.table.kind.key} ({c.score})" for c in [best, *close])
        raise InputError(loaded.path, "its columns fit several exports about as well (scores: "
                         f"{names})", expected="one export; choose with --source SERVICE/KIND")
    return best.table, best.why(len(loaded.columns), rest[0] if rest else None)
