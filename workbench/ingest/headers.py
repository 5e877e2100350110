"""Recognising export columns by name: the synonym tables are reviewed data, not code.

Each service has ``workbench/config/headers/<service>.toml``; each table in it is one export
kind::

    [contacts]
    title = "the service's contacts export (Excel)"
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
field = [captions] layout (see :mod:`workbench.ingest.sources.generic`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import tomlkit
from pydantic import AfterValidator, ConfigDict, RootModel, StrictStr, model_validator

from workbench.configuration import ConfigError, ConfigModel, read_toml, validate
from workbench.ingest.model import FIELDS, ExportKind
from workbench.text import fold as ascii_fold

KNOWN_WITHOUT_FIELD = "other"
# A file whose columns give none of these cannot say whom its rows are about, so a partial
# match is never accepted without one.
IDENTIFYING_FIELDS = frozenset({
    "name", "given_name", "family_name", "company", "account_holder", "customer_number",
    "party_key", "email", "phone", "iban", "vat_number", "kvk_number", "bsn", "card_number"})
# An export's own caption (``any_of``) weighs as much as this many ordinary known columns.
SIGNATURE_POINTS = 2


def fold(name: str) -> str:
    """The comparable form of a header name."""
    return re.sub(r"[^0-9a-z]", "", ascii_fold(str(name)).lower())


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


def _canonical(field: str) -> str:
    if field not in FIELDS:
        raise ValueError(f"{field!r} is not a canonical field; expected one of {sorted(FIELDS)}")
    return field


def _column_field(field: str) -> str:
    return field if field == KNOWN_WITHOUT_FIELD else _canonical(field)


CanonicalField = Annotated[StrictStr, AfterValidator(_canonical)]
Columns = dict[Annotated[StrictStr, AfterValidator(_column_field)], list[StrictStr]]


class _Model(ConfigModel):
    model_config = ConfigDict(strict=True)


class TableSpec(_Model):
    """One export kind's synonym table; in a user's ``mappings.toml`` every key is optional."""

    title: StrictStr | None = None
    formats: list[StrictStr] = ["csv", "xlsx"]
    required: list[CanonicalField] = []  # canonical fields that must be present
    any_of: list[StrictStr] = []  # and at least one of these captions
    evidence: StrictStr | None = None
    columns: Columns = {}  # field (or "other") -> header names


class BuiltinTable(TableSpec):
    """A shipped table: it names its export and says what its captions rest on."""

    title: StrictStr
    evidence: StrictStr


class BuiltinTables(RootModel[dict[str, BuiltinTable]]):
    model_config = ConfigDict(frozen=True, strict=True)


@cache
def has_tables(service: str) -> bool:
    """Whether the service has tabular exports with a synonym table."""
    return (resources.files("workbench") / "config" / "headers" / f"{service}.toml").is_file()


@cache
def builtin(service: str) -> dict[str, BuiltinTable]:
    """The reviewed synonym tables that ship with the workbench, validated."""
    path = Path(str(resources.files("workbench") / "config" / "headers" / f"{service}.toml"))
    return validate(read_toml(path), BuiltinTables, f"workbench/config/headers/{service}.toml").root


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


def user_mappings(path: Path | None) -> dict[str, dict[str, TableSpec]]:
    """A workspace's ``mappings.toml``: ``{service: {kind: table}}``, validated. The
    ``[system.NAME]`` sections of other systems are validated here too and read by :func:`systems`."""
    return _user_file(path).services()


# --------------------------------------------------------------------------------------------
# other systems' exports: the analyst's confirmed mapping per system

SYSTEM = "system"
PROPOSED, CONFIRMED = "proposed", "confirmed"
SYSTEM_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def _system_name(name: str) -> str:
    if not SYSTEM_NAME.fullmatch(name):
        raise ValueError("a system name is lower-case letters, digits, '-' or '_' (at most 40), starting "
                         "with a letter")
    return name


class SystemSpec(_Model):
    """``[system.NAME]``: the analyst's mapping of another system's columns."""

    status: Literal["proposed", "confirmed"]
    columns: Columns = {}

    @model_validator(mode="after")
    def _each_caption_once(self) -> SystemSpec:
        seen: dict[str, str] = {}
        for field, captions in self.columns.items():
            for caption in captions:
                if seen.setdefault(fold(caption), field) != field:
                    raise ValueError(f"columns: one column is listed under both {seen[fold(caption)]!r} "
                                     f"and {field!r}")
        return self


class UserMappings(_Model):
    """A workspace's ``mappings.toml``: ``[system.NAME]`` sections and, under any other key, a
    service's extra synonyms per export kind."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, dict[str, TableSpec]]
    system: dict[Annotated[StrictStr, AfterValidator(_system_name)], SystemSpec] = {}

    def services(self) -> dict[str, dict[str, TableSpec]]:
        return dict(self.__pydantic_extra__ or {})


def _user_file(path: Path | None) -> UserMappings:
    if path is None or not path.exists():
        return UserMappings()
    return validate(read_toml(path), UserMappings, path)


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


def systems(path: Path | None) -> dict[str, SystemMapping]:
    """The other systems' mappings in a workspace's ``mappings.toml``, validated."""
    return {name: SystemMapping(name, spec.status, dict(spec.columns))
            for name, spec in _user_file(path).system.items()}


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
        raise ConfigError([f"{path}: {SYSTEM}.{name}: missing; propose one with "
                           f"'workbench import --system {name} FILE'"])
    if not set(mapping.columns) & IDENTIFYING_FIELDS:
        raise ConfigError([f"{path}: {SYSTEM}.{name}.columns: names no column as a name or "
                           f"identifier ({', '.join(sorted(IDENTIFYING_FIELDS))}); add one first"])
    document = _document(path)
    document[SYSTEM][name]["status"] = CONFIRMED
    _store(path, document, name)
    return SystemMapping(name, CONFIRMED, mapping.columns)


def _document(path: Path) -> tomlkit.TOMLDocument:
    return tomlkit.parse(path.read_text("utf-8")) if path.exists() else tomlkit.document()


def _store(path: Path, document: tomlkit.TOMLDocument, name: str) -> None:
    """Check the system's section as it will be read back, then replace the file atomically."""
    text = tomlkit.dumps(document)
    validate(tomllib.loads(text), UserMappings, path)
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
        synonyms = {fold(header): field for field, headers in table.columns.items() for header in headers}
        for field, headers in (extra[name].columns if name in extra else {}).items():
            synonyms.update({fold(h): field for h in headers})
        synonyms.update({fold(column): field for s, kind, column, field in mappings.decided
                         if (s, kind) == (service, name)})
        required, any_of = tuple(table.required), tuple(table.any_of)
        if (service, name) in mappings.relaxed:
            required, any_of = tuple(f for f in required if FIELDS[f].table == "document"), ()
        result.append(HeaderTable(
            kind=ExportKind(service, name, table.title),
            formats=tuple(table.formats),
            required=required,
            any_of=any_of,
            synonyms=synonyms,
        ))
    return result
