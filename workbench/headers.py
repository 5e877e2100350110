"""Recognising export columns by name: the synonym tables are reviewed data, not code.

Each service has ``workbench/config/headers/<service>.toml``; each table in it is one export
kind::

    [contacts]
    title = "MoneyBird contacts export (Excel)"
    formats = ["xlsx", "csv"]          # containers this export comes in
    required = ["customer_number", "company"]   # canonical fields that must be present
    any_of = ["E-mailadres voor facturen"]      # and at least one of these headers (optional)
    evidence = "INFERRED: ..."        # what the names rest on
    [contacts.columns]
    email = ["E-mailadres", "E-mail", "Email"]
    other = ["Verzendmethode"]        # known, but no canonical field

Header names are compared after folding case, accents, spaces and punctuation, so
``E-mail adres``, ``e_mailadres`` and ``EMAILADRES`` are the same name, and Exact's glued
``Ordered byCode`` is ``orderedbycode``. A user adds synonyms without touching code in the
workspace's ``mappings.toml``, with the same layout under ``[<service>.<kind>.columns]``.

The same file holds the analyst's mapping of each other system (a webshop, a CRM) under
``[system.<name>]``: ``status`` (``proposed`` or ``confirmed``) and ``columns`` in the same
field = [captions] layout (see :mod:`workbench.sources.generic`).
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import tomlkit

from workbench.errors import WorkbenchError
from workbench.model import FIELDS, ExportKind

KNOWN_WITHOUT_FIELD = "other"
# A file whose columns give none of these cannot say whom its rows are about, so a partial
# match is never accepted without one.
IDENTIFYING_FIELDS = frozenset({
    "name", "given_name", "family_name", "company", "account_holder", "customer_number",
    "party_key", "email", "phone", "iban", "vat_number", "kvk_number", "bsn", "card_number"})
# An export's own caption (``any_of``) weighs as much as this many ordinary known columns.
SIGNATURE_POINTS = 2
_TABLE_KEYS = {"title", "formats", "required", "any_of", "evidence", "columns"}


class MappingError(WorkbenchError):
    """A synonym file that does not follow the layout."""


def fold(name: str) -> str:
    """The comparable form of a header name."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]", "", text.lower())


@dataclass(frozen=True)
class HeaderTable:
    kind: ExportKind
    formats: tuple[str, ...]
    required: tuple[str, ...]
    any_of: tuple[str, ...]
    synonyms: dict[str, str]  # folded header -> canonical field (or "other")

    def column_map(self, columns: list[str]) -> dict[str, str | None]:
        """Canonical field for each column; "other" when known without field; None if unknown."""
        return {c: self.synonyms.get(fold(c)) for c in columns}

    def missing(self, columns: list[str]) -> list[str]:
        """What this export needs and the columns lack (empty when they fit)."""
        fields = set(self.column_map(columns).values())
        lacking = [f for f in self.required if f not in fields]
        folded = {fold(c) for c in columns}
        if self.any_of and not folded & {fold(a) for a in self.any_of}:
            lacking.append(" or ".join(repr(a) for a in self.any_of))
        return lacking

    def known(self, columns: list[str]) -> list[str]:
        """The columns this export's table names (with a canonical field or as "other")."""
        return [c for c in columns if fold(c) in self.synonyms]

    def signature(self, columns: list[str]) -> bool:
        """Whether one of the captions only this export has (``any_of``) is among the columns."""
        return bool({fold(c) for c in columns} & {fold(a) for a in self.any_of})

    def identifying(self, columns: list[str]) -> list[str]:
        """The fields that name or identify a party that the columns give (sorted)."""
        return sorted(set(self.column_map(columns).values()) & IDENTIFYING_FIELDS)

    def score(self, columns: list[str]) -> int:
        """How well the columns fit: a point per column the table knows, and
        :data:`SIGNATURE_POINTS` more when one of the export's own captions is there."""
        return len(self.known(columns)) + (SIGNATURE_POINTS if self.signature(columns) else 0)


def _check_table(source: str, service: str, name: str, table: object) -> None:
    where = f"{source}: [{service}.{name}]" if service else f"{source}: [{name}]"
    if not isinstance(table, dict):
        raise MappingError(f"{where} must be a table")
    extra = set(table) - _TABLE_KEYS
    if extra:
        raise MappingError(f"{where}: unknown key(s) {sorted(extra)}; expected {sorted(_TABLE_KEYS)}")
    columns = table.get("columns", {})
    if not isinstance(columns, dict):
        raise MappingError(f"{where}.columns must be a table of field = [header names]")
    for field, names in columns.items():
        if field != KNOWN_WITHOUT_FIELD and field not in FIELDS:
            raise MappingError(f"{where}.columns: {field!r} is not a canonical field; "
                               f"expected one of {sorted(FIELDS)} or 'other'")
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise MappingError(f"{where}.columns.{field} must be a list of header names")
    for field in table.get("required", []):
        if field not in FIELDS:
            raise MappingError(f"{where}.required: {field!r} is not a canonical field")


def _load_toml(path: Path | str, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc})") from None


@cache
def has_tables(service: str) -> bool:
    """Whether the service has tabular exports with a synonym table."""
    return (resources.files("workbench") / "config" / "headers" / f"{service}.toml").is_file()


@cache
def builtin(service: str) -> dict[str, dict]:
    """The reviewed synonym tables that ship with the workbench, checked."""
    ref = resources.files("workbench") / "config" / "headers" / f"{service}.toml"
    data = _load_toml(f"workbench/config/headers/{service}.toml", ref.read_text("utf-8"))
    for name, table in data.items():
        _check_table(f"workbench/config/headers/{service}.toml", "", name, table)
    return data


@dataclass(frozen=True)
class Mappings:
    """The user's header synonyms: the workspace's ``mappings.toml`` plus the analyst's
    decisions on single columns, ``(service, kind, column, field)``, which win over both."""

    path: Path | None = None
    decided: tuple[tuple[str, str, str, str], ...] = ()
    # ``(service, kind)`` exports taken with a subset of their columns (recognised by score or
    # named with --source): their tables ask only for the document fields their readers use
    relaxed: tuple[tuple[str, str], ...] = ()


MappingsLike = Mappings | Path | None


def user_mappings(path: Path | None) -> dict[str, dict]:
    """A workspace's ``mappings.toml``: ``{service: {kind: {"columns": {...}}}}``, checked.
    The ``[system.NAME]`` sections of other systems are checked here and read by :func:`systems`."""
    if path is None or not path.exists():
        return {}
    data = _load_toml(path, path.read_text("utf-8"))
    for name, section in data.pop(SYSTEM, {}).items():
        _check_system(path, name, section)
    for service, kinds in data.items():
        if not isinstance(kinds, dict):
            raise MappingError(f"{path}: [{service}] must hold tables per export kind")
        for name, table in kinds.items():
            _check_table(str(path), service, name, table)
    return data


# --------------------------------------------------------------------------------------------
# other systems' exports: the analyst's confirmed mapping per system

SYSTEM = "system"
PROPOSED, CONFIRMED = "proposed", "confirmed"
_SYSTEM_KEYS = {"status", "columns"}
SYSTEM_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class SystemMapping:
    """``[system.NAME]`` in ``mappings.toml``: which canonical field each column of the system's
    exports feeds (``other``: known, no field), and whether the analyst confirmed it."""

    name: str
    status: str
    columns: dict[str, list[str]]  # field -> captions as the files write them

    @property
    def confirmed(self) -> bool:
        return self.status == CONFIRMED

    def column_map(self, columns: list[str]) -> dict[str, str | None]:
        folded = {fold(c): field for field, captions in self.columns.items() for c in captions}
        return {c: folded.get(fold(c)) for c in columns}


def _check_system(path: Path, name: str, section: object) -> None:
    where = f"{path}: [{SYSTEM}.{name}]"
    if not SYSTEM_NAME.fullmatch(name):
        raise MappingError(f"{where}: a system name is lower-case letters, digits, '-' or '_' "
                           "(at most 40), starting with a letter")
    if not isinstance(section, dict):
        raise MappingError(f"{where} must be a table")
    extra = set(section) - _SYSTEM_KEYS
    if extra:
        raise MappingError(f"{where}: unknown key(s) {sorted(extra)}; expected {sorted(_SYSTEM_KEYS)}")
    if section.get("status") not in (PROPOSED, CONFIRMED):
        raise MappingError(f"{where}.status must be {PROPOSED!r} or {CONFIRMED!r}")
    _check_table(str(path), SYSTEM, name, {"columns": section.get("columns", {})})
    seen: dict[str, str] = {}
    for field, captions in section.get("columns", {}).items():
        for caption in captions:
            if seen.setdefault(fold(caption), field) != field:
                raise MappingError(f"{where}.columns: one column is listed under both "
                                   f"{seen[fold(caption)]!r} and {field!r}")


def systems(path: Path | None) -> dict[str, SystemMapping]:
    """The other systems' mappings in a workspace's ``mappings.toml``, checked."""
    if path is None or not path.exists():
        return {}
    data = _load_toml(path, path.read_text("utf-8")).get(SYSTEM, {})
    for name, section in data.items():
        _check_system(path, name, section)
    return {name: SystemMapping(name, section["status"], dict(section.get("columns", {})))
            for name, section in data.items()}


def store_system(path: Path, mapping: SystemMapping, notes: dict[str, str] | None = None) -> None:
    """Write ``[system.NAME]`` into ``mappings.toml`` (owner-only), keeping everything else in
    the file as the user wrote it, comments included; ``notes`` comments each field's line
    with how it was found."""
    document = _document(path)
    section = tomlkit.table()
    section.add("status", mapping.status)
    columns = tomlkit.table()
    for field, captions in mapping.columns.items():
        item = tomlkit.item(list(captions))
        if notes and notes.get(field):
            item.comment(notes[field])
        columns.add(field, item)
    section.add("columns", columns)
    if SYSTEM not in document:
        document.add(SYSTEM, tomlkit.table(is_super_table=True))
    document[SYSTEM][mapping.name] = section
    _store(path, document, mapping.name)


def confirm_system(path: Path, name: str) -> SystemMapping:
    """Mark the system's mapping confirmed, as the analyst left it (comments kept). It must name
    a column as a name or identifier, or no record could be told apart."""
    mapping = systems(path).get(name)
    if mapping is None:
        raise MappingError(f"{path}: no [{SYSTEM}.{name}]; propose one with "
                           f"'workbench import --system {name} FILE'")
    if not set(mapping.columns) & IDENTIFYING_FIELDS:
        raise MappingError(f"{path}: [{SYSTEM}.{name}.columns] names no column as a name or "
                           f"identifier ({', '.join(sorted(IDENTIFYING_FIELDS))}); add one first")
    document = _document(path)
    document[SYSTEM][name]["status"] = CONFIRMED
    _store(path, document, name)
    return SystemMapping(name, CONFIRMED, mapping.columns)


def _document(path: Path) -> tomlkit.TOMLDocument:
    return tomlkit.parse(path.read_text("utf-8")) if path.exists() else tomlkit.document()


def _store(path: Path, document: tomlkit.TOMLDocument, name: str) -> None:
    """Check the system's section as it will be read back, then replace the file atomically."""
    text = tomlkit.dumps(document)
    _check_system(path, name, tomllib.loads(text)[SYSTEM][name])
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text, "utf-8")
    staged.chmod(0o600)
    os.replace(staged, path)


def tables(service: str, mappings: MappingsLike = None) -> list[HeaderTable]:
    """The header tables of a service, with the user's synonyms taking precedence."""
    if not isinstance(mappings, Mappings):
        mappings = Mappings(mappings)
    extra = user_mappings(mappings.path).get(service, {})
    result = []
    for name, table in builtin(service).items():
        synonyms = {
            fold(header): field
            for field, headers in table.get("columns", {}).items()
            for header in headers
        }
        for field, headers in extra.get(name, {}).get("columns", {}).items():
            synonyms.update({fold(h): field for h in headers})
        synonyms.update({fold(column): field for s, kind, column, field in mappings.decided
                         if (s, kind) == (service, name)})
        required, any_of = tuple(table.get("required", [])), tuple(table.get("any_of", []))
        if (service, name) in mappings.relaxed:
            required, any_of = tuple(f for f in required if FIELDS[f].table == "document"), ()
        result.append(HeaderTable(
            kind=ExportKind(service, name, table["title"]),
            formats=tuple(table.get("formats", ["csv", "xlsx"])),
            required=required,
            any_of=any_of,
            synonyms=synonyms,
        ))
    return result
