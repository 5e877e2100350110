"""Any other system's export: a webshop, a newsletter tool, a CRM.

The user downloads a list of customers, subscribers or orders from that system's admin pages,
as CSV, Excel (XLSX) or a JSON list of objects, and imports it with
``workbench import --system NAME FILE``. Nobody reviewed that system's captions, so its columns
are matched in two ways and shown to the analyst as a proposal:

* by name, through every synonym table the workbench has (all services' header tables and the
  user's own in ``mappings.toml``): the field most tables give the caption, with the share of
  tables that agree as confidence;
* by value, for a column no table names: :func:`workbench.ingest.discovery.classify` (e-mail, IBAN,
  phone, BSN, postcode, person name, ...), with its confidence.

The proposal is stored as ``[system.NAME]`` with ``status = "proposed"`` in the workspace's
``mappings.toml``; nothing is imported until the analyst confirms it
(``workbench mapping confirm --system NAME``, or by editing the file). Later imports of the
system read with the confirmed mapping; a column it does not list is kept and reported as
unmapped. Every record is kept with all its columns, as for the known services.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.errors import InputError, WorkbenchError
from workbench.ingest import discovery, headers
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common, _recognise

FORMATS = ("csv", "xlsx", "json")
KIND_NAME = "list"


def kind(system: str) -> ExportKind:
    return ExportKind(system, KIND_NAME, f"{system} export (another system, mapped by the analyst)")


def check_name(system: str) -> None:
    """A system name is a plain lower-case word and not one of the services the workbench knows."""
    from workbench.ingest.sources import SERVICES  # the package imports this module

    if not headers.SYSTEM_NAME.fullmatch(system):
        raise WorkbenchError(f"--system {system!r}: expected a lower-case name of letters, digits, "
                             "'-' or '_' (at most 40), starting with a letter")
    if system in SERVICES:
        raise WorkbenchError(f"--system {system}: {system} is a known service; import its exports "
                             f"without --system (or with --source {system})")


@dataclass(frozen=True)
class Match:
    """The proposed field of one column, how it was found, and how sure that is."""

    column: str
    field: str | None
    how: str
    confidence: float


def table(path: Path, mappings: headers.MappingsLike = None) -> tuple[_common.Loaded, pd.DataFrame]:
    """The file as a table of strings: CSV and XLSX as they are, a JSON list flattened."""
    loaded = _common.load(path)
    if loaded.format not in FORMATS:
        raise InputError(path, f"is a {loaded.format} file", expected="a CSV, XLSX or JSON list")
    if loaded.format == "json":
        records = _records(loaded)
        if records is None:
            raise InputError(path, "holds no list of objects",
                             expected="a JSON list of records (or an object wrapping one)")
        return loaded, _common.flatten(records)
    _recognise.check_header(loaded, set(_synonyms(mappings)))
    return loaded, loaded.table


def _records(loaded: _common.Loaded) -> list[dict] | None:
    """The records of a JSON list: what :func:`_common.json_records` finds, or the one list of
    objects a wrapper holds (``{"orders": [...]}``, ``{"data": [...], "meta": {...}}``)."""
    obj = loaded.json
    if isinstance(obj, dict):
        lists = [v for v in obj.values()
                 if isinstance(v, list) and v and all(isinstance(o, dict) for o in v)]
        if len(lists) == 1:
            return lists[0]
    return _common.json_records(loaded)


def propose(paths: list[Path], mappings: headers.MappingsLike = None) -> list[Match]:
    """A proposed field for every column of the files, once per column name (the first file
    that has it decides)."""
    votes = _synonyms(mappings)
    matches: dict[str, Match] = {}
    for path in paths:
        _, raw = table(path, mappings)
        for column in raw.columns:
            if headers.fold(column) not in matches:
                matches[headers.fold(column)] = _match(column, raw[column], votes)
    return list(matches.values())


def _synonyms(mappings: headers.MappingsLike) -> dict[str, Counter]:
    """For each folded caption, how many tables give it each field."""
    from workbench.ingest.sources import headers_services

    votes: dict[str, Counter] = {}
    for service in headers_services():
        for t in headers.tables(service, mappings):
            for caption, field in t.synonyms.items():
                votes.setdefault(caption, Counter())[field] += 1
    return votes


def _match(column: str, values: pd.Series, votes: dict[str, Counter]) -> Match:
    tally = votes.get(headers.fold(column))
    if tally:
        field, count = tally.most_common(1)[0]
        total = sum(tally.values())
        return Match(column, field, f"its name, in {count} of {total} synonym tables",
                     round(count / total, 2))
    found = discovery.classify(column, values)
    if found and found.field:
        return Match(column, found.field, f"its values look like {found.kind.replace('_', ' ')}",
                     found.confidence)
    if found:
        return Match(column, None, f"its values look like {found.kind.replace('_', ' ')} "
                     "(no canonical field: left unmapped, inventoried by the detector)",
                     found.confidence)
    return Match(column, None, "not recognised by name or values", 0.0)


def as_mapping(system: str, matches: list[Match], status: str) -> tuple[headers.SystemMapping,
                                                                      dict[str, str]]:
    """The proposal as a ``[system.NAME]`` mapping, with a note per field on how it was found."""
    columns: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    for m in matches:
        if m.field is not None and m.column not in columns.get(m.field, []):
            columns.setdefault(m.field, []).append(m.column)
            notes.setdefault(m.field, []).append(f"{m.how}, confidence {m.confidence:.2f}")
    return (headers.SystemMapping(system, status, columns),
            {field: "; ".join(n) for field, n in notes.items()})


def read(path: Path, mapping: headers.SystemMapping, mappings: headers.MappingsLike = None) -> Extract:
    """The file through the analyst's confirmed mapping of its system."""
    if not mapping.confirmed:
        raise WorkbenchError(f"the mapping of system {mapping.name} is only proposed; confirm it "
                             f"with 'workbench mapping confirm --system {mapping.name}'")
    loaded, raw = table(path, mappings)
    column_map = mapping.column_map(list(raw.columns))
    if not set(column_map.values()) & headers.IDENTIFYING_FIELDS:
        raise InputError(path, f"none of its columns is one the confirmed mapping of {mapping.name} "
                         "names as a name or identifier",
                         expected=f"an export of {mapping.name} with the columns confirmed in "
                         "mappings.toml, or a mapping that names this file's columns")
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    parties, documents = _common.split(canon, "record")
    return _common.finish(kind(mapping.name), raw, parties, documents, column_map)
