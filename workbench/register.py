"""The record of processing activities (Art. 30 GDPR), kept as reviewed data.

The register is a directory of TOML files under version control, one per subject:

* ``controller.toml``: the firm, its contact details, DPO and representative;
* ``processors.toml``: each processor, its services, systems, country, transfer safeguard,
  processor agreement and sub-processors;
* ``systems.toml``: the systems that hold personal data and their main processor;
* ``activities.toml``: the processing activities with purpose, legal basis, subjects,
  categories, uses, recipients, systems, retention rule and security measures;
* ``retention.toml``: the retention rules with period, start event and motivation;
* ``categories.toml``: the fideslang data categories, data uses and data subjects used, labelled
  in Dutch and English, and the category of every canonical field and discovery kind.

The vocabulary is the fideslang taxonomy (``fideslang.toml``, CC-BY-4.0), always read from the
workbench's own copy, so another firm's directory holds only its own six files.

Nothing is silently missing: a text left empty needs a note under the record's ``[todo]``, and
"n/a" needs its reason under ``[na]``. Every problem found on load names the file and the key;
all problems are reported at once. :func:`check_ropa` then judges the content against the Art. 30
checklist R30-01..R30-11 of the research notes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError
from workbench.model import FIELDS

NA = "n/a"
NONE = "none"
LEGAL_BASES = {
    "consent": "Art. 6(1)(a) consent",
    "contract": "Art. 6(1)(b) contract",
    "legal_obligation": "Art. 6(1)(c) legal obligation",
    "vital_interests": "Art. 6(1)(d) vital interests",
    "public_interest": "Art. 6(1)(e) public interest",
    "legitimate_interests": "Art. 6(1)(f) legitimate interests",
}
ROLES = ("processor", "independent_controller", "joint_controller")
SAFEGUARDS = {
    "none": "none (no transfer outside the EEA)",
    "adequacy": "adequacy decision (Art. 45)",
    "sccs": "standard contractual clauses (Art. 46(2)(c))",
    "bcrs": "binding corporate rules (Art. 47)",
    "art49": "derogation for a specific situation (Art. 49)",
    "unknown": "unknown",
}
AGREEMENTS = ("signed", "accepted_terms", "requested", "missing", "unknown", NA)
AGREEMENTS_ON_FILE = ("signed", "accepted_terms")
ON_ERASURE = ("erase", "retain", "anonymise")
EEA = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
    "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
})
FILES = ("controller", "processors", "systems", "activities", "retention", "categories")


class RegisterError(WorkbenchError):
    """A register directory whose files do not follow the schema; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_DERIVED = {"derived": True}  # a field the loader sets; it is not a key of the file


def _key() -> Any:
    """The record's key in its file (the table name), set by the loader."""
    return field(default="", metadata=_DERIVED)


@dataclass(frozen=True)
class Controller:
    name: str
    address: str
    postcode: str
    city: str
    country: str
    email: str
    phone: str
    website: str
    kvk: str
    privacy_contact: str
    dpo: str
    representative: str
    joint_controllers: str = ""
    privacy_notice: str = ""
    privacy_notice_date: str = ""
    reviewed_on: str = ""
    reviewed_by: str = ""
    na: dict[str, str] = field(default_factory=dict)
    todo: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Processor:
    name: str
    role: str
    services: tuple[str, ...]
    systems: tuple[str, ...]
    country: str
    outside_eea: bool
    transfer_safeguard: str
    agreement_status: str
    agreement_date: str
    sub_processors: tuple[str, ...]
    transfer_note: str = ""
    note: str = ""
    na: dict[str, str] = field(default_factory=dict)
    todo: dict[str, str] = field(default_factory=dict)
    key: str = _key()


@dataclass(frozen=True)
class Activity:
    name_nl: str
    name_en: str
    purpose_nl: str
    purpose_en: str
    legal_basis: str
    data_subjects: tuple[str, ...]
    data_categories: tuple[str, ...]
    data_uses: tuple[str, ...]
    recipients: tuple[str, ...]
    systems: tuple[str, ...]
    retention: str
    security_measures: tuple[str, ...]
    source: str
    automated_decisions: str
    legal_basis_detail: str = ""
    lia: str = ""
    art9_condition: str = ""
    dpia: str = ""
    note: str = ""
    na: dict[str, str] = field(default_factory=dict)
    todo: dict[str, str] = field(default_factory=dict)
    key: str = _key()


@dataclass(frozen=True)
class RetentionRule:
    name: str
    period_text: str
    # In the file as `years` or `months`; 0 = at the event itself; None = no period given.
    years: float | None = field(metadata=_DERIVED)
    after: str
    motivation: str
    period_nl: str = ""  # the period in Dutch, for letters to clients; English when absent
    legal_reference: str = ""
    on_erasure: str = "erase"
    # The canonical fields a kept record still needs under this rule; the rest goes on erasure.
    keeps: tuple[str, ...] = ()
    na: dict[str, str] = field(default_factory=dict)
    todo: dict[str, str] = field(default_factory=dict)
    key: str = _key()


@dataclass(frozen=True)
class Category:
    key: str = field(metadata=_DERIVED)
    label_nl: str
    label_en: str
    special: bool = False  # Art. 9 or Art. 10 GDPR data
    national_id: bool = False  # the BSN


@dataclass(frozen=True)
class Term:
    """A data use or data subject of the vocabulary, labelled."""

    key: str = field(metadata=_DERIVED)
    label_nl: str
    label_en: str


@dataclass(frozen=True)
class System:
    key: str = field(metadata=_DERIVED)
    name: str
    processor: str  # the main processor
    activities: tuple[str, ...] = field(metadata=_DERIVED)  # keys of the activities that use it
    processors: tuple[str, ...] = field(metadata=_DERIVED)  # every processor that runs part of it
    description: str = ""
    # the customer numbering the system's client numbers belong to: systems that name the same
    # one share it (the firm types its own client number into each); empty, its own
    numbering: str = ""


def _covers(declared: str, category: str) -> bool:
    return category == declared or category.startswith(declared + ".")


@dataclass(frozen=True)
class Register:
    controller: Controller
    processors: dict[str, Processor]
    activities: dict[str, Activity]
    retention_rules: dict[str, RetentionRule]
    categories: dict[str, Category]
    systems: dict[str, System]
    uses: dict[str, Term] = field(default_factory=dict)
    subjects: dict[str, Term] = field(default_factory=dict)
    fields: dict[str, str | None] = field(default_factory=dict)  # canonical field -> category
    kinds: dict[str, str | None] = field(default_factory=dict)  # other discovery kinds -> category

    def category_of(self, name: str) -> str | None:
        """The fideslang category of a canonical field or discovery kind; None if not personal."""
        return self.fields[name] if name in self.fields else self.kinds.get(name)

    def numberings(self) -> dict[str, str]:
        """The numbering of each system's customer numbers: the one it shares with other systems,
        or its own (the system's key) when it numbers its clients itself."""
        return {key: s.numbering or key for key, s in self.systems.items()}

    def activities_for(self, system: str) -> list[Activity]:
        return [a for a in self.activities.values() if system in a.systems]

    def declared(self, category: str, system: str) -> bool:
        """Whether an activity of the system declares the category or a parent of it."""
        return any(_covers(c, category) for a in self.activities_for(system) for c in a.data_categories)

    def retention_for(self, category: str, system: str) -> RetentionRule | None:
        """The rule that keeps the category longest on the system (the data stays that long)."""
        rules = [self.retention_rules[a.retention] for a in self.activities_for(system)
                 if any(_covers(c, category) for c in a.data_categories)]
        return max(rules, key=lambda r: -1 if r.years is None else r.years, default=None)


# --- loading -----------------------------------------------------------------------------------

_KINDS = {"str": "text", "bool": "flag", "float | None": "number", "tuple[str, ...]": "list",
          "dict[str, str]": "notes"}
_KIND_TEXT = {"text": "a string", "flag": "true or false", "number": "a number",
              "list": "a list of strings", "notes": "a table of key = text"}


def _spec(cls: type) -> dict[str, tuple[str, bool]]:
    """The TOML keys of a record type: key -> (kind, required), read off the dataclass."""
    return {
        f.name: (_KINDS[f.type], f.default is MISSING and f.default_factory is MISSING)
        for f in fields(cls) if not f.metadata.get("derived")
    }


def _fits(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "flag":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _table(key: str) -> str:
    return f'"{key}"' if "." in key else key


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class _Loader:
    """Reads one register directory, collecting every problem with its file and key."""

    def __init__(self, root: Traversable, label: str) -> None:
        self.root = root
        self.label = label
        self.problems: list[str] = []
        self.vocabulary = _vocabulary()

    def error(self, file: str, where: str, problem: str) -> None:
        self.problems.append(f"{self.label}{file}.toml: {where}: {problem}")

    def read(self, file: str) -> dict:
        path = self.root / f"{file}.toml"
        if not path.is_file():
            self.problems.append(f"{self.label}{file}.toml: missing; a register needs {', '.join(FILES)}")
            return {}
        try:
            return tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            self.problems.append(f"{self.label}{file}.toml: not valid TOML ({exc})")
            return {}

    def record(self, cls: type, file: str, where: str, table: Any, **derived: Any) -> Any:
        """One record checked against its dataclass; None (with problems noted) if it does not fit."""
        if not isinstance(table, dict):
            self.error(file, where, "must be a table")
            return None
        spec = _spec(cls)
        before = len(self.problems)
        for key in table.keys() - spec.keys():
            self.error(file, _at(where, key), f"unknown key; expected one of {sorted(spec)}")
        values = {}
        for key, (kind, required) in spec.items():
            if key not in table:
                if required:
                    self.error(file, _at(where, key), f"missing ({_KIND_TEXT[kind]})")
                continue
            if not _fits(kind, table[key]):
                self.error(file, _at(where, key), f"must be {_KIND_TEXT[kind]}")
                continue
            values[key] = tuple(table[key]) if kind == "list" else table[key]
        if len(self.problems) > before:
            return None
        self._explicit(file, where, values, spec, {f.name for f in fields(cls)})
        return cls(**values, **derived)

    def _explicit(self, file: str, where: str, values: dict, spec: dict, names: set[str]) -> None:
        """Empty texts need a [todo] note, "n/a" needs a reason under [na]."""
        for notes in ("todo", "na"):
            for key in set(values.get(notes, {})) - names:
                self.error(file, _at(where, f"{notes}.{key}"), "names no key of this record")
        for key, (kind, required) in spec.items():
            value = values.get(key)
            if required and kind == "text" and value == "" and key not in values.get("todo", {}):
                self.error(file, _at(where, key), "is empty; give it, or say what is missing under [todo]")
            if value == NA and key not in values.get("na", {}):
                self.error(file, _at(where, key), "is 'n/a'; give the reason under [na]")

    def one_of(self, file: str, where: str, value: str, allowed: Any) -> None:
        if value not in allowed:
            self.error(file, where, f"{value!r} is not one of {sorted(allowed)}")

    def known(self, file: str, where: str, values: tuple[str, ...], known: Any, what: str) -> None:
        for value in values:
            if value not in known:
                self.error(file, where, f"{value!r} is not a {what}; expected one of {sorted(known)}")


def _vocabulary() -> dict:
    ref = resources.files("workbench") / "config" / "register" / "fideslang.toml"
    return tomllib.loads(ref.read_text("utf-8"))


def _shipped() -> Traversable:
    return resources.files("workbench") / "config" / "register"


def load(directory: Path | None = None) -> Register:
    """The register in a directory (default: the one shipped with the workbench), validated.

    Raises :class:`RegisterError` listing every problem, each naming its file and key.
    """
    root = _shipped() if directory is None else Path(directory)
    label = "workbench/config/register/" if directory is None else f"{Path(directory)}/"
    loader = _Loader(root, label)
    data = {name: loader.read(name) for name in FILES}
    if loader.problems:  # cross-references into an unreadable file would only add noise
        raise RegisterError(loader.problems)
    categories, uses, subjects, mapped, kinds = _load_categories(loader, data["categories"])
    controller = loader.record(Controller, "controller", "", data["controller"])
    processors = _load_table(loader, Processor, "processors", data["processors"])
    rules = _load_rules(loader, data["retention"])
    activities = _load_table(loader, Activity, "activities", data["activities"])
    systems = _load_table(loader, System, "systems", data["systems"], activities=(), processors=())
    _check_processors(loader, processors, systems)
    _check_activities(loader, activities, processors, systems, rules, categories, uses, subjects)
    for rule in rules.values():
        loader.one_of("retention", f"[{rule.key}].on_erasure", rule.on_erasure, ON_ERASURE)
        _check_keeps(loader, rule)
    if controller is not None:
        _check_review(loader, controller)
    if loader.problems or controller is None:
        raise RegisterError(loader.problems)
    return Register(
        controller=controller,
        processors=processors,
        activities=activities,
        retention_rules=rules,
        categories=categories,
        systems=_link_systems(systems, processors, activities),
        uses=uses,
        subjects=subjects,
        fields=mapped,
        kinds=kinds,
    )


def _check_keeps(loader: _Loader, rule: RetentionRule) -> None:
    """A rule that retains says which canonical fields the duty needs; those are known fields."""
    where = f"[{rule.key}].keeps"
    if rule.on_erasure == "retain" and not rule.keeps:
        loader.error("retention", where, "missing: a rule that retains lists the canonical fields the "
                                         "legal duty needs; every other personal field is deleted on erasure")
    loader.known("retention", where, rule.keeps, FIELDS, "canonical field (workbench/model.py FIELDS)")


def _check_review(loader: _Loader, c: Controller) -> None:
    """The review date is a date; reviewer and date are given together (or both noted as todo)."""
    if c.reviewed_on and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", c.reviewed_on):
        loader.error("controller", "reviewed_on", "must be a date YYYY-MM-DD")
    if bool(c.reviewed_on) != bool(c.reviewed_by):
        loader.error("controller", "reviewed_by" if c.reviewed_on else "reviewed_on",
                     "the reviewer and the review date go together; give both")


def _load_table(loader: _Loader, cls: type, file: str, data: Any, section: str = "",
                **derived: Any) -> dict:
    if not isinstance(data, dict):
        loader.error(file, f"[{section.rstrip('.')}]", "must hold one table per entry")
        return {}
    records = {key: loader.record(cls, file, f"[{section}{_table(key)}]", table, key=key, **derived)
               for key, table in data.items()}
    return {key: record for key, record in records.items() if record is not None}


def _years(loader: _Loader, key: str, table: dict) -> float | None:
    """The period of a rule, from `years` or `months` (taken out of the table); None if neither."""
    given = [unit for unit in ("years", "months") if unit in table]
    values = [table.pop(unit) for unit in given]
    if len(given) > 1 or not all(_fits("number", v) for v in values):
        loader.error("retention", f"[{key}].{given[-1]}",
                     "must be a number >= 0, and only one of years and months")
        return None
    if not given:
        return None
    return values[0] if given == ["years"] else round(values[0] / 12, 4)


def _load_rules(loader: _Loader, data: dict) -> dict[str, RetentionRule]:
    rules = {}
    for key, table in data.items():
        table = dict(table) if isinstance(table, dict) else table
        years = _years(loader, key, table) if isinstance(table, dict) else None
        if isinstance(table, dict) and isinstance(table.get("todo"), dict) and "months" in table["todo"]:
            table["todo"] = {("years" if k == "months" else k): v for k, v in table["todo"].items()}
        rules |= _load_table(loader, RetentionRule, "retention", {key: table}, years=years)
    return rules


def _load_categories(loader: _Loader, data: dict) -> tuple:
    vocab = loader.vocabulary
    for key in data.keys() - {"categories", "uses", "subjects", "fields", "kinds"}:
        loader.error("categories", f"[{key}]",
                     "unknown table; expected categories, uses, subjects, fields, kinds")
    categories = _load_table(loader, Category, "categories", data.get("categories", {}), "categories.")
    for key in list(categories):
        where = f'[categories."{key}"]'
        if key in vocab["deprecated"]:
            loader.error("categories", where, f"deprecated in fideslang; use {vocab['deprecated'][key]!r}")
        elif key not in vocab["data_categories"]:
            loader.error("categories", where, "is not a fideslang data category")
        special = any(_covers(s, key) for s in vocab["gdpr"]["special"])
        if categories[key].special != special:
            loader.error("categories", f"{where}.special", f"must be {str(special).lower()} (Art. 9/10 GDPR)")
        national = key in vocab["gdpr"]["national_id"]
        if categories[key].national_id != national:
            loader.error("categories", f"{where}.national_id", f"must be {str(national).lower()}")
    uses = _load_table(loader, Term, "categories", data.get("uses", {}), "uses.")
    subjects = _load_table(loader, Term, "categories", data.get("subjects", {}), "subjects.")
    loader.known("categories", "[uses]", tuple(uses), vocab["data_uses"], "fideslang data use")
    loader.known("categories", "[subjects]", tuple(subjects), vocab["data_subjects"],
                 "fideslang data subject")
    mapped = _load_fields(loader, _tables(loader, data, "fields"), categories)
    kinds = {k: (None if v == NONE else v) for k, v in _tables(loader, data, "kinds").items()}
    loader.known("categories", "[kinds]", tuple(v for v in kinds.values() if v), categories,
                 "category of [categories]")
    return categories, uses, subjects, mapped, kinds


def _tables(loader: _Loader, data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        loader.error("categories", f"[{name}]", "must be a table of name = category")
        return {}
    return value


def _load_fields(loader: _Loader, data: dict, categories: dict) -> dict[str, str | None]:
    for name in FIELDS.keys() - data.keys():
        loader.error("categories", f"[fields].{name}",
                     "missing: every canonical field needs a category or 'none'")
    for name in data.keys() - FIELDS.keys():
        loader.error("categories", f"[fields].{name}",
                     "is not a canonical field (workbench/model.py FIELDS)")
    mapped = {}
    for name, value in data.items():
        if not isinstance(value, str):
            loader.error("categories", f"[fields].{name}", "must be a category key or 'none'")
        elif value == NONE and name in FIELDS and FIELDS[name].personal:
            loader.error("categories", f"[fields].{name}",
                         "is personal data (model.FIELDS); give its category")
        elif value != NONE and value not in categories:
            loader.error("categories", f"[fields].{name}", f"{value!r} is not a category of [categories]")
        else:
            mapped[name] = None if value == NONE else value
    return mapped


def _check_processors(loader: _Loader, processors: dict[str, Processor], systems: dict) -> None:
    for key, p in processors.items():
        where = f"[{key}]"
        loader.one_of("processors", f"{where}.role", p.role, ROLES)
        loader.one_of("processors", f"{where}.transfer_safeguard", p.transfer_safeguard, SAFEGUARDS)
        loader.one_of("processors", f"{where}.agreement_status", p.agreement_status, AGREEMENTS)
        loader.known("processors", f"{where}.systems", p.systems, systems, "system of systems.toml")
        if p.outside_eea == (p.country in EEA):
            loader.error("processors", f"{where}.outside_eea",
                         f"{str(p.outside_eea).lower()} does not fit country {p.country!r}")
        if p.outside_eea == (p.transfer_safeguard == "none"):
            loader.error("processors", f"{where}.transfer_safeguard",
                         "must be 'none' exactly when the data stays in the EEA")
        if p.agreement_status == "unknown" and "agreement_date" not in p.todo:
            loader.error("processors", f"{where}.agreement_status",
                         "is 'unknown'; say what to find out under [todo].agreement_date")
        on_file = p.agreement_status in AGREEMENTS_ON_FILE
        if on_file and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.agreement_date):
            loader.error("processors", f"{where}.agreement_date", "must be a date YYYY-MM-DD")
        if not p.sub_processors and not ({"sub_processors"} & (p.todo.keys() | p.na.keys())):
            loader.error("processors", f"{where}.sub_processors", "is empty; say why under [todo] or [na]")
    for key, s in systems.items():
        if s.numbering and not re.fullmatch(r"[a-z][a-z0-9_]*", s.numbering):
            loader.error("systems", f"[{key}].numbering", "must be a key: lower case letters, digits, _")
        if s.processor not in processors:
            loader.error("systems", f"[{key}].processor",
                         f"{s.processor!r} is not a processor of processors.toml")
        elif key not in processors[s.processor].systems:
            loader.error("systems", f"[{key}].processor",
                         f"processor {s.processor!r} does not list this system in processors.toml")


def _check_activities(loader: _Loader, activities: dict[str, Activity], processors: dict, systems: dict,
                      rules: dict, categories: dict, uses: dict, subjects: dict) -> None:
    for key, a in activities.items():
        where = f"[{key}]"
        loader.one_of("activities", f"{where}.legal_basis", a.legal_basis, LEGAL_BASES)
        loader.known("activities", f"{where}.recipients", a.recipients, processors,
                     "processor of processors.toml")
        loader.known("activities", f"{where}.systems", a.systems, systems, "system of systems.toml")
        loader.known("activities", f"{where}.data_categories", a.data_categories, categories,
                     "category of categories.toml")
        loader.known("activities", f"{where}.data_uses", a.data_uses, uses, "data use of categories.toml")
        loader.known("activities", f"{where}.data_subjects", a.data_subjects, subjects,
                     "data subject of categories.toml")
        if a.retention not in rules:
            loader.error("activities", f"{where}.retention",
                         f"{a.retention!r} is not a rule of retention.toml")


def _link_systems(systems: dict[str, System], processors: dict[str, Processor],
                  activities: dict[str, Activity]) -> dict[str, System]:
    def others(key: str, main: str) -> tuple[str, ...]:
        return tuple(p for p, proc in processors.items() if key in proc.systems and p != main)

    return {
        key: replace(s, activities=tuple(a for a, act in activities.items() if key in act.systems),
                     processors=(s.processor, *others(key, s.processor)))
        for key, s in systems.items()
    }


# --- the record and its checks --------------------------------------------------------------------

ROPA_COLUMNS = [
    "activity", "name_nl", "name_en",
    "(a) controller", "(b) purpose_nl", "(b) purpose_en", "(c) data subjects", "(c) data categories",
    "(d) recipients", "(e) third-country transfers", "(f) retention", "(g) security measures",
    "legal basis", "legitimate interests assessment", "Art. 9 condition", "special categories",
    "data uses", "systems", "source", "automated decisions", "DPIA", "retention motivation",
    "processor agreements", "privacy notice", "last reviewed",
]
ART30_COLUMNS = [c for c in ROPA_COLUMNS if c.startswith("(")]


@dataclass(frozen=True)
class Check:
    id: str
    passed: bool
    detail: str


def _value(record: Any, key: str) -> str:
    """A text with its [na] reason or [todo] note spelled out."""
    value = getattr(record, key)
    if value == NA:
        return f"n/a ({record.na[key]})"
    return value or f"missing ({record.todo.get(key, 'no note')})"


def _controller_text(c: Controller) -> str:
    return (f"{c.name}, {c.address}, {c.postcode} {c.city}, {c.country}; {c.email}; {c.phone}; "
            f"privacy contact: {_value(c, 'privacy_contact')}; DPO: {_value(c, 'dpo')}; "
            f"representative: {_value(c, 'representative')}; "
            f"joint controllers: {_value(c, 'joint_controllers')}")


def _transfers(register: Register, a: Activity) -> str:
    abroad = [register.processors[r] for r in a.recipients if register.processors[r].outside_eea]
    if not abroad:
        return "none: every recipient processes the data in the EEA"
    return "; ".join(f"{p.name}: {p.country}, {SAFEGUARDS[p.transfer_safeguard]}"
                     + (f" ({p.transfer_note})" if p.transfer_note else "") for p in abroad)


def _row(register: Register, a: Activity) -> dict[str, str]:
    c, rule = register.controller, register.retention_rules[a.retention]
    cats = [register.categories[k] for k in a.data_categories]
    special = [k.key for k in cats if k.special or k.national_id]
    agreements = [register.processors[r] for r in a.recipients]
    return {
        "activity": a.key, "name_nl": a.name_nl, "name_en": a.name_en,
        "(a) controller": _controller_text(c),
        "(b) purpose_nl": a.purpose_nl, "(b) purpose_en": a.purpose_en,
        "(c) data subjects": "; ".join(f"{register.subjects[s].label_en} ({s})" for s in a.data_subjects),
        "(c) data categories": "; ".join(f"{k.label_en} ({k.key})" for k in cats),
        "(d) recipients": "; ".join(f"{register.processors[r].name} ({register.processors[r].role})"
                                    for r in a.recipients),
        "(e) third-country transfers": _transfers(register, a),
        "(f) retention": f"{rule.name}: {rule.period_text}"
                         + (f" [{rule.legal_reference}]" if rule.legal_reference else ""),
        "(g) security measures": "; ".join(a.security_measures),
        "legal basis": LEGAL_BASES[a.legal_basis]
                       + (f": {a.legal_basis_detail}" if a.legal_basis_detail else ""),
        "legitimate interests assessment": a.lia if a.legal_basis == "legitimate_interests"
        else "n/a (legal basis is not legitimate interests)",
        "Art. 9 condition": a.art9_condition if special else "n/a (no special-category data or BSN)",
        "special categories": "; ".join(special) or NONE,
        "data uses": "; ".join(a.data_uses),
        "systems": "; ".join(register.systems[s].name for s in a.systems),
        "source": a.source, "automated decisions": a.automated_decisions, "DPIA": a.dpia,
        "retention motivation": rule.motivation,
        "processor agreements": "; ".join(f"{p.name}: {p.agreement_status} {p.agreement_date}".strip()
                                          for p in agreements),
        "privacy notice": f"{c.privacy_notice} ({c.privacy_notice_date})" if c.privacy_notice else "",
        "last reviewed": f"{c.reviewed_on} by {c.reviewed_by}" if c.reviewed_on and c.reviewed_by else "",
    }


def ropa(register: Register) -> pd.DataFrame:
    """The record of processing activities: one row per activity, Art. 30(1)(a)-(g) plus extras."""
    return pd.DataFrame([_row(register, a) for a in register.activities.values()], columns=ROPA_COLUMNS)


_GENERIC_PURPOSES = (
    "business operations", "business purposes", "general purposes", "service provision", "our services",
    "bedrijfsvoering", "dienstverlening", "algemene doeleinden", "administration", "administratie",
    "operations", "improving", "verbeteren",
)
_FILLER = {
    "a", "all", "an", "and", "are", "as", "by", "data", "for", "general", "in", "is", "it", "its", "of",
    "on", "only", "or", "other", "our", "personal", "process", "processing", "purpose", "purposes", "the",
    "this", "to", "use", "used", "we", "with", "your", "algemeen", "alle", "andere", "behoeve", "de",
    "deze", "die", "door", "een", "en", "gebruiken", "gegevens", "het", "met", "onze", "ons", "op",
    "overige", "persoonsgegevens", "te", "ten", "uw", "uitsluitend", "van", "verwerken", "voor", "wij",
    "doel", "doeleinden",
}
_VAGUE_RETENTION = re.compile(
    r"as long as (is )?(necessary|needed|required)|zo ?lang (als )?(nodig|noodzakelijk)"
    r"|indefinite|onbepaalde tijd", re.IGNORECASE)
_GENERIC_MEASURES = _FILLER | {
    "appropriate", "adequate", "technical", "organisational", "organizational", "measures", "security",
    "taken", "has", "have", "passende", "technische", "organisatorische", "maatregelen", "beveiliging",
    "genomen", "getroffen", "heeft", "zijn",
}


def _specific(purpose: str) -> bool:
    """A purpose says what is done: at least four words beyond generic phrases and filler."""
    text = purpose.lower()
    for phrase in _GENERIC_PURPOSES:
        text = text.replace(phrase, " ")
    return len([w for w in re.findall(r"[\w'-]+", text) if w not in _FILLER]) >= 4


def _check(id_: str, problems: list[str], ok: str) -> Check:
    return Check(id_, not problems, "; ".join(problems) if problems else ok)


def _r30_01(r: Register) -> Check:
    c, problems = r.controller, []
    for key in ("name", "address", "postcode", "city", "privacy_contact"):
        if not getattr(c, key) or getattr(c, key) == NA:
            problems.append(f"controller {key} {_value(c, key)}")
    if not (c.email or c.phone):
        problems.append("controller has neither e-mail nor phone")
    for key in ("dpo", "representative", "joint_controllers"):
        if not getattr(c, key):
            problems.append(f"{key} is neither given nor explicitly 'n/a'")
    return _check("R30-01", problems,
                  f"{c.name}: contact details, DPO, representative and joint controllers given")


def _r30_02(r: Register) -> Check:
    problems = [f"{a.key}: purpose_{lang} is empty or generic" for a in r.activities.values()
                for lang in ("nl", "en") if not _specific(getattr(a, f"purpose_{lang}"))]
    return _check("R30-02", problems,
                  f"{len(r.activities)} activities with a specific purpose in Dutch and English")


def _r30_03(r: Register) -> Check:
    problems = [f"{a.key}: no data subjects" for a in r.activities.values() if not a.data_subjects]
    return _check("R30-03", problems, "every activity names its data subjects")


def _r30_04(r: Register) -> Check:
    problems = [f"{a.key}: no data categories" for a in r.activities.values() if not a.data_categories]
    problems += [f"{a.key}: {k!r} is not a category of the register" for a in r.activities.values()
                 for k in a.data_categories if k not in r.categories]
    flagged = sorted({f"{a.key}: {k}" for a in r.activities.values() for k in a.data_categories
                      if k in r.categories and (r.categories[k].special or r.categories[k].national_id)})
    ok = "categories valid fideslang keys; " + (
        f"special categories or BSN flagged: {', '.join(flagged)}" if flagged
        else "no special-category (Art. 9/10) data or BSN declared")
    return _check("R30-04", problems, ok)


def _r30_05(r: Register) -> Check:
    problems = [f"{a.key}: no recipients" for a in r.activities.values() if not a.recipients]
    used = {p for a in r.activities.values() for p in a.recipients}
    problems += [f"processor {p} is a recipient of no activity" for p in r.processors if p not in used]
    problems += [f"{a.key}: {p} runs system {s} but is not among the recipients"
                 for a in r.activities.values() for s in a.systems
                 for p in r.systems[s].processors if p not in a.recipients]
    return _check("R30-05", problems, f"all {len(r.processors)} processors are recipients of an activity")


def _r30_06(r: Register) -> Check:
    problems, transfers = [], []
    for p in r.processors.values():
        if not p.outside_eea:
            continue
        if not p.country or p.transfer_safeguard in ("unknown", "none"):
            problems.append(f"{p.key} ({p.country or 'no country'}): safeguard {p.transfer_safeguard}")
        elif p.transfer_safeguard == "art49" and not p.transfer_note:
            problems.append(f"{p.key}: an Art. 49 transfer needs its documentation in transfer_note")
        else:
            transfers.append(f"{p.key}: {p.country}, {p.transfer_safeguard}")
    return _check("R30-06", problems, "; ".join(transfers) or "none: no transfer outside the EEA")


def _r30_07(r: Register) -> Check:
    problems = []
    for a in r.activities.values():
        rule = r.retention_rules[a.retention]
        if rule.years is None or not rule.after.strip():
            vague = _VAGUE_RETENTION.search(rule.period_text)
            why = " ('as long as necessary' without criteria)" if vague else ""
            problems.append(f"{a.key}: rule {rule.key} has no period and start event{why}")
        elif not rule.motivation.strip():
            problems.append(f"{a.key}: rule {rule.key} has no motivation")
    return _check("R30-07", problems,
                  "every category of every activity has a rule with period, start event and motivation")


def _r30_08(r: Register) -> Check:
    def concrete(measure: str) -> bool:
        return any(w not in _GENERIC_MEASURES for w in re.findall(r"[\w'-]+", measure.lower()))

    problems = [f"{a.key}: no concrete security measure" for a in r.activities.values()
                if not any(concrete(m) for m in a.security_measures)]
    return _check("R30-08", problems, "every activity describes its security measures")


def _r30_09(r: Register) -> Check:
    problems = []
    for a in r.activities.values():
        row = _row(r, a)
        for column in ("legal basis", "legitimate interests assessment", "Art. 9 condition", "source",
                       "automated decisions", "DPIA"):
            if not row[column].strip():
                problems.append(f"{a.key}: {column} missing")
    problems += [f"processor agreement with {p.key}: {p.agreement_status}" for p in r.processors.values()
                 if p.agreement_status not in (*AGREEMENTS_ON_FILE, NA)]
    c = r.controller
    if not c.privacy_notice:
        problems.append("link to the privacy notice missing")
    if not (c.reviewed_on and c.reviewed_by):
        problems.append("last-reviewed date and reviewer missing")
    return _check("R30-09", problems, "legal basis, LIA, Art. 9 condition, source, ADM, DPIA, "
                                      "processor agreements, privacy notice and review recorded")


def _r30_10(r: Register) -> Check:
    table = ropa(r)
    empty = [f"{row.activity}: {col}" for row in table.itertuples(index=False)
             for col, value in zip(table.columns, row, strict=True) if col in ART30_COLUMNS and not value]
    problems = ["the register has no activities"] if table.empty else [f"{e} empty" for e in empty]
    return _check("R30-10", problems, f"ropa() renders {len(table)} rows with every Art. 30(1) column "
                                      "filled; the data map export writes the dated copy")


def _r30_11(r: Register, found: set[tuple[str, str]] | None) -> Check:
    if found is None:
        return Check("R30-11", False, "not checked: give the (system, category) pairs found in the data")
    # a system nobody put in the register (another system imported with --system) is one finding
    unknown = sorted({s for s, c in found if c and c != NONE and s not in r.systems})
    problems = [f"system {s} holds personal data but the register declares no such system"
                for s in unknown]
    undeclared = sorted((s, c) for s, c in found
                        if c and c != NONE and s in r.systems and not r.declared(c, s))
    problems += [f"{c} found in {s} but declared on no activity of {s}" for s, c in undeclared]
    return _check("R30-11", problems, f"all {len(found)} (system, category) pairs found are declared")


def check_ropa(register: Register, found: set[tuple[str, str]] | None = None) -> list[Check]:
    """The Art. 30 checklist R30-01..R30-11; ``found`` = (system, category) pairs seen in the data."""
    checks = [_r30_01, _r30_02, _r30_03, _r30_04, _r30_05, _r30_06, _r30_07, _r30_08, _r30_09, _r30_10]
    return [check(register) for check in checks] + [_r30_11(register, found)]
