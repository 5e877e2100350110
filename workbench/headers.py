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
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.model import FIELDS, ExportKind

KNOWN_WITHOUT_FIELD = "other"
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

    def score(self, columns: list[str]) -> float:
        """How well the columns fit, 0..1: share of required items present, then of known names."""
        need = len(self.required) + (1 if self.any_of else 0)
        present = (need - len(self.missing(columns))) / need if need else 0.0
        known = sum(1 for c in columns if fold(c) in self.synonyms) / max(len(columns), 1)
        return 0.8 * present + 0.2 * known


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


MappingsLike = Mappings | Path | None


def user_mappings(path: Path | None) -> dict[str, dict]:
    """A workspace's ``mappings.toml``: ``{service: {kind: {"columns": {...}}}}``, checked."""
    if path is None or not path.exists():
        return {}
    data = _load_toml(path, path.read_text("utf-8"))
    for service, kinds in data.items():
        if not isinstance(kinds, dict):
            raise MappingError(f"{path}: [{service}] must hold tables per export kind")
        for name, table in kinds.items():
            _check_table(str(path), service, name, table)
    return data


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
        result.append(HeaderTable(
            kind=ExportKind(service, name, table["title"]),
            formats=tuple(table.get("formats", ["csv", "xlsx"])),
            required=tuple(table.get("required", [])),
            any_of=tuple(table.get("any_of", [])),
            synonyms=synonyms,
        ))
    return result
