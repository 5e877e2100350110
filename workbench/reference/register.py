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
  in Dutch and English, and the category of every canonical field and discovery kind;
* ``steps.toml`` (optional in another firm's directory): the wording of the erasure,
  rectification and restriction steps, generic and per system, each with its evidence.

The vocabulary is the fideslang taxonomy (``fideslang.toml``, CC-BY-4.0), always read from the
workbench's own copy, so another firm's directory holds only its own files.

Each file is validated by a pydantic model (:mod:`workbench.configuration`); the references
between files are checked by the model of the whole directory. Nothing is silently missing: a
text left empty needs a note under the record's ``[todo]``, and "n/a" needs its reason under
``[na]``. Every problem names the file and the key, all at once, in one
:class:`~workbench.configuration.ConfigError`. :func:`check_ropa` then judges the content
against the Art. 30 checklist R30-01..R30-11.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
from pydantic import (
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from workbench.configuration import ConfigError, ConfigModel, read_toml
from workbench.ingest.model import FIELDS
from workbench.reference.taxonomy import covers

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
M = TypeVar("M", bound=ConfigModel)
FILES = ("controller", "processors", "systems", "activities", "retention", "categories")
OPTIONAL_FILES = ("steps",)  # taken from the workbench's own copy when a directory has none

Texts = tuple[str, ...]


def _problem(message: str) -> PydanticCustomError:
    """A validation problem whose message is shown as it is (braces would be read as fields)."""
    return PydanticCustomError("register", message.replace("{", "{{").replace("}", "}}"))


# --- the records of the files ------------------------------------------------------------------


class Record(ConfigModel):
    """A record of the register. ``na`` and ``todo`` come first, so the texts after them can be
    checked against them: an empty required text needs a [todo] note, "n/a" a reason under [na]."""

    na: dict[str, str] = {}
    todo: dict[str, str] = {}

    @field_validator("na", "todo")
    @classmethod
    def _notes_name_keys(cls, notes: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(notes) - set(cls.model_fields))
        if unknown:
            raise _problem(f"names no key of this record: {', '.join(unknown)}")
        return notes

    @field_validator("*")
    @classmethod
    def _explicit(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name in ("na", "todo") or not isinstance(value, str):
            return value
        if value == NA and name not in info.data.get("na", {}):
            raise _problem("is 'n/a'; give the reason under [na]")
        if value == "" and cls.model_fields[name].is_required() and name not in info.data.get("todo", {}):
            raise _problem("is empty; give it, or say what is missing under [todo]")
        return value


class Controller(Record):
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
    reviewed_on: Annotated[str, Field(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = ""
    reviewed_by: str = Field(default="", validate_default=True)

    @field_validator("reviewed_on", mode="wrap")
    @classmethod
    def _a_date(cls, value: Any, handler: Any) -> str:
        try:
            return handler(value)
        except ValidationError:
            raise _problem("must be a date YYYY-MM-DD") from None

    @field_validator("reviewed_by")
    @classmethod
    def _review_pairs(cls, value: str, info: ValidationInfo) -> str:
        if "reviewed_on" in info.data and bool(info.data["reviewed_on"]) != bool(value):
            raise _problem("the reviewer and the review date go together; give both")
        return value


class Keyed(Record):
    """A record in a table of its file; ``key`` is the table's name, set by the loader."""

    key: str = ""


class Processor(Keyed):
    name: str
    role: Literal[ROLES]  # type: ignore[valid-type]
    services: Texts
    systems: Texts
    country: str
    outside_eea: StrictBool
    transfer_safeguard: Literal[tuple(SAFEGUARDS)]  # type: ignore[valid-type]
    agreement_status: Literal[AGREEMENTS]  # type: ignore[valid-type]
    agreement_date: str
    sub_processors: Texts
    transfer_note: str = ""
    note: str = ""

    @field_validator("outside_eea")
    @classmethod
    def _fits_country(cls, value: bool, info: ValidationInfo) -> bool:
        if "country" in info.data and value == (info.data["country"] in EEA):
            raise _problem(f"{str(value).lower()} does not fit country {info.data['country']!r}")
        return value

    @field_validator("transfer_safeguard")
    @classmethod
    def _none_inside_eea(cls, value: str, info: ValidationInfo) -> str:
        if "outside_eea" in info.data and info.data["outside_eea"] == (value == "none"):
            raise _problem("must be 'none' exactly when the data stays in the EEA")
        return value

    @field_validator("agreement_status")
    @classmethod
    def _unknown_has_todo(cls, value: str, info: ValidationInfo) -> str:
        if value == "unknown" and "agreement_date" not in info.data.get("todo", {}):
            raise _problem("is 'unknown'; say what to find out under [todo].agreement_date")
        return value

    @field_validator("agreement_date")
    @classmethod
    def _dated_when_on_file(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("agreement_status") in AGREEMENTS_ON_FILE and not re.fullmatch(
                r"\d{4}-\d{2}-\d{2}", value):
            raise _problem("must be a date YYYY-MM-DD")
        return value

    @field_validator("sub_processors")
    @classmethod
    def _none_said_why(cls, value: Texts, info: ValidationInfo) -> Texts:
        noted = info.data.get("todo", {}).keys() | info.data.get("na", {}).keys()
        if not value and "sub_processors" not in noted:
            raise _problem("is empty; say why under [todo] or [na]")
        return value


class Activity(Keyed):
    name_nl: str
    name_en: str
    purpose_nl: str
    purpose_en: str
    legal_basis: Literal[tuple(LEGAL_BASES)]  # type: ignore[valid-type]
    data_subjects: Texts
    data_categories: Texts
    data_uses: Texts
    recipients: Texts
    systems: Texts
    retention: str
    security_measures: Texts
    source: str
    automated_decisions: str
    legal_basis_detail: str = ""
    lia: str = ""
    art9_condition: str = ""
    dpia: str = ""
    note: str = ""


class RetentionRule(Keyed):
    name: str
    period_text: str
    # In the file as `years` or `months`; 0 = at the event itself; None = no period given.
    years: Annotated[float, Field(ge=0, strict=True)] | None = None
    after: str
    motivation: str
    period_nl: str = ""  # the period in Dutch, for letters to clients; English when absent
    legal_reference: str = ""
    on_erasure: Literal[ON_ERASURE] = "erase"  # type: ignore[valid-type]
    # The canonical fields a kept record still needs under this rule; the rest goes on erasure.
    keeps: Texts = Field(default=(), validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _months_in_years(cls, data: Any) -> Any:
        """A period given in months is kept in years; its [todo] note moves along."""
        if not isinstance(data, dict) or "months" not in data:
            return data
        if "years" in data:
            raise _problem("give only one of years and months")
        data = dict(data)
        months = data.pop("months")
        number = isinstance(months, int | float) and not isinstance(months, bool)
        data["years"] = round(months / 12, 4) if number else months
        if isinstance(data.get("todo"), dict):
            data["todo"] = {("years" if k == "months" else k): v for k, v in data["todo"].items()}
        return data

    @field_validator("keeps")
    @classmethod
    def _keeps_known_fields(cls, value: Texts, info: ValidationInfo) -> Texts:
        if info.data.get("on_erasure") == "retain" and not value:
            raise _problem("missing: a rule that retains lists the canonical fields the legal duty needs; "
                           "every other personal field is deleted on erasure")
        unknown = [v for v in value if v not in FIELDS]
        if unknown:
            raise _problem(f"{', '.join(map(repr, unknown))} is not a canonical field "
                           "(workbench/ingest/model.py FIELDS)")
        return value


class Category(ConfigModel):
    key: str = ""
    label_nl: str
    label_en: str
    special: StrictBool = Field(default=False, validate_default=True)  # Art. 9 or Art. 10 GDPR data
    national_id: StrictBool = Field(default=False, validate_default=True)  # the BSN

    @model_validator(mode="after")
    def _in_fideslang(self) -> Category:
        vocabulary = fideslang()
        if self.key in vocabulary.deprecated:
            raise _problem(f"deprecated in fideslang; use {vocabulary.deprecated[self.key]!r}")
        if self.key not in vocabulary.data_categories:
            raise _problem("is not a fideslang data category")
        return self

    @field_validator("special")
    @classmethod
    def _special_as_gdpr(cls, value: bool, info: ValidationInfo) -> bool:
        special = any(covers(s, info.data.get("key", "")) for s in fideslang().gdpr.special)
        if value != special:
            raise _problem(f"must be {str(special).lower()} (Art. 9/10 GDPR)")
        return value

    @field_validator("national_id")
    @classmethod
    def _national_as_gdpr(cls, value: bool, info: ValidationInfo) -> bool:
        national = info.data.get("key", "") in fideslang().gdpr.national_id
        if value != national:
            raise _problem(f"must be {str(national).lower()}")
        return value


class Term(ConfigModel):
    """A data use or data subject of the vocabulary, labelled."""

    key: str = ""
    label_nl: str
    label_en: str


class Use(Term):
    @model_validator(mode="after")
    def _in_fideslang(self) -> Use:
        if self.key not in fideslang().data_uses:
            raise _problem("is not a fideslang data use")
        return self


class Subject(Term):
    @model_validator(mode="after")
    def _in_fideslang(self) -> Subject:
        if self.key not in fideslang().data_subjects:
            raise _problem("is not a fideslang data subject")
        return self


class System(ConfigModel):
    key: str = ""
    name: str
    processor: str  # the main processor
    description: str = ""
    # the customer numbering the system's client numbers belong to: systems that name the same
    # one share it (the firm types its own client number into each); empty, its own
    numbering: Annotated[str, Field(pattern=r"^([a-z][a-z0-9_]*)?$")] = ""
    # derived, not keys of the file: the activities that use the system (activities.toml) and
    # every processor that runs part of it (processors.toml)
    activities: Texts = ()
    processors: Texts = ()

    @model_validator(mode="before")
    @classmethod
    def _derived_not_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.keys() & {"activities", "processors"}:
            raise _problem("activities and processors follow from activities.toml and processors.toml; "
                           "remove them here")
        return data

    @field_validator("numbering", mode="wrap")
    @classmethod
    def _a_key(cls, value: Any, handler: Any) -> str:
        try:
            return handler(value)
        except ValidationError:
            raise _problem("must be a key: lower case letters, digits, _") from None


class Vocabulary(ConfigModel):
    """categories.toml: the categories, uses and subjects the firm uses, and the category of
    every canonical field and discovery kind ("none" for what is not personal data)."""

    categories: dict[str, Category]
    uses: dict[str, Use] = {}
    subjects: dict[str, Subject] = {}
    fields: dict[str, str]
    kinds: dict[str, str] = {}

    @field_validator("categories", "uses", "subjects", mode="before")
    @classmethod
    def _keyed(cls, tables: Any) -> Any:
        return _with_keys(tables)


class Gdpr(ConfigModel):
    special: Texts
    national_id: Texts


class Fideslang(ConfigModel):
    """fideslang.toml: the keys of the taxonomy, and the ones the GDPR treats specially."""

    data_categories: frozenset[str]
    data_uses: frozenset[str]
    data_subjects: frozenset[str]
    deprecated: dict[str, str]
    gdpr: Gdpr


# --- the wording of the steps ------------------------------------------------------------------

# The fields a step's wording may fill in: the system's name, the retention date, where the record
# is edited, a rule's period.
STEP_FIELDS = frozenset({"system", "until", "where", "period"})


class Step(ConfigModel):
    """A step the analyst carries out in a service: its wording, and what the wording rests on
    ("inferred: ..." when a menu path could not be checked against the live service)."""

    text: str
    evidence: str

    @field_validator("text")
    @classmethod
    def _known_fields(cls, text: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError:
            raise _problem("has an unmatched { or }") from None
        unknown = sorted(names - STEP_FIELDS)
        if unknown:
            raise _problem(f"fills in {', '.join(unknown)}; a step knows only "
                           f"{', '.join(sorted(STEP_FIELDS))}")
        return text

    def fill(self, **values: Any) -> str:
        return self.text.format(**{name: "" for name in STEP_FIELDS} | values)


StepKind = Literal[
    "profile", "document", "anonymise", "expired", "erase", "unimported", "record_where", "rectify_profile",
    "rectify_document", "restrict_profile", "restrict_document", "mailbox", "mailbox_none", "log_lines"]
# A system's own step that is also a fact about it: it keeps a party record while documents that
# refer to it are kept (bookings on a relation), so the party is blocked now and anonymised once
# their retention ends.
KEEPS_PARTY = "keeps_party_with_documents"
SystemStepKind = Literal[StepKind, "keeps_party_with_documents"]


class Steps(ConfigModel):
    """steps.toml: the generic wording of every kind of step, and the systems' own wording."""

    generic: dict[StepKind, Step]
    systems: dict[str, dict[SystemStepKind, Step]] = {}

    @field_validator("generic")
    @classmethod
    def _every_kind(cls, generic: dict[str, Step]) -> dict[str, Step]:
        missing = sorted(set(StepKind.__args__) - set(generic))  # type: ignore[attr-defined]
        if missing:
            raise _problem(f"missing the generic wording of {', '.join(missing)}")
        return generic

    def step(self, system: str, kind: str) -> Step:
        """The system's own wording of a kind of step, else the generic one."""
        return self.systems.get(system, {}).get(kind) or self.generic[kind]

    def keeps_party(self, system: str) -> Step | None:
        """The step for a party the system keeps while its documents are kept; None if it does not."""
        return self.systems.get(system, {}).get(KEEPS_PARTY)


# --- the register ------------------------------------------------------------------------------


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
    steps: Steps = field(default_factory=lambda: shipped_steps(generic_only=True))

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
        return any(covers(c, category) for a in self.activities_for(system) for c in a.data_categories)

    def retention_for(self, category: str, system: str) -> RetentionRule | None:
        """The rule that keeps the category longest on the system (the data stays that long)."""
        rules = [self.retention_rules[a.retention] for a in self.activities_for(system)
                 if any(covers(c, category) for c in a.data_categories)]
        return max(rules, key=lambda r: -1 if r.years is None else r.years, default=None)

    def system_name(self, key: str) -> str:
        """The name of a system; a service the register does not know goes by its key."""
        return self.systems[key].name if key in self.systems else key


# --- loading -----------------------------------------------------------------------------------


def _with_keys(tables: Any) -> Any:
    """Each table of a file gets its name as ``key`` (a table that is not one is left to fail)."""
    if not isinstance(tables, dict):
        return tables
    return {k: ({**t, "key": k} if isinstance(t, dict) and "key" not in t else t) for k, t in tables.items()}


class RegisterFiles(ConfigModel):
    """The files of a register directory, and the references between them."""

    controller: Controller
    processors: dict[str, Processor]
    systems: dict[str, System]
    activities: dict[str, Activity]
    retention: dict[str, RetentionRule]
    categories: Vocabulary
    steps: Steps

    @field_validator("processors", "systems", "activities", "retention", mode="before")
    @classmethod
    def _keyed(cls, tables: Any) -> Any:
        return _with_keys(tables)

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> RegisterFiles:
        """Every reference from one record to another resolves; all problems are raised together
        (as a ConfigError, which pydantic passes on), each as ``file: key: message``."""
        found = [*_system_refs(self), *_activity_refs(self), *_field_refs(self.categories),
                 *_step_refs(self.steps, self.systems)]
        if found:
            label = (info.context or {}).get("label", "")
            raise ConfigError(f"{label}{file}.toml: {key}: {message}" for file, key, message in found)
        return self


Found = Iterator[tuple[str, str, str]]  # (file, key, message)


def _unknown(file: str, key: str, values: Texts, known: Any, what: str) -> Found:
    for value in values:
        if value not in known:
            yield file, key, f"{value!r} is not a {what}"


def _system_refs(files: RegisterFiles) -> Found:
    for key, p in files.processors.items():
        yield from _unknown("processors", f"{key}.systems", p.systems, files.systems,
                            "system of systems.toml")
    for key, s in files.systems.items():
        if s.processor not in files.processors:
            yield "systems", f"{key}.processor", f"{s.processor!r} is not a processor of processors.toml"
        elif key not in files.processors[s.processor].systems:
            yield ("systems", f"{key}.processor",
                   f"processor {s.processor!r} does not list this system in processors.toml")


def _activity_refs(files: RegisterFiles) -> Found:
    vocabulary = files.categories
    for key, a in files.activities.items():
        yield from _unknown("activities", f"{key}.recipients", a.recipients, files.processors,
                            "processor of processors.toml")
        yield from _unknown("activities", f"{key}.systems", a.systems, files.systems,
                            "system of systems.toml")
        yield from _unknown("activities", f"{key}.data_categories", a.data_categories, vocabulary.categories,
                            "category of categories.toml")
        yield from _unknown("activities", f"{key}.data_uses", a.data_uses, vocabulary.uses,
                            "data use of categories.toml")
        yield from _unknown("activities", f"{key}.data_subjects", a.data_subjects, vocabulary.subjects,
                            "data subject of categories.toml")
        if a.retention not in files.retention:
            yield "activities", f"{key}.retention", f"{a.retention!r} is not a rule of retention.toml"


def _field_refs(vocabulary: Vocabulary) -> Found:
    for name in sorted(FIELDS.keys() - vocabulary.fields.keys()):
        yield "categories", f"fields.{name}", "missing: every canonical field needs a category or 'none'"
    for name, value in vocabulary.fields.items():
        if name not in FIELDS:
            yield "categories", f"fields.{name}", "is not a canonical field (model.FIELDS)"
        elif value == NONE and FIELDS[name].personal:
            yield "categories", f"fields.{name}", "is personal data (model.FIELDS); give its category"
        elif value != NONE and value not in vocabulary.categories:
            yield "categories", f"fields.{name}", f"{value!r} is not a category of [categories]"
    for name, value in vocabulary.kinds.items():
        if value != NONE and value not in vocabulary.categories:
            yield "categories", f"kinds.{name}", f"{value!r} is not a category of [categories]"


def _step_refs(steps: Steps, systems: dict[str, System]) -> Found:
    for key in steps.systems:
        if key not in systems:
            yield "steps", f"systems.{key}", "is not a system of systems.toml"


def _shipped() -> Path:
    return Path(str(resources.files("workbench") / "config" / "register"))


@cache
def fideslang() -> Fideslang:
    """The fideslang vocabulary, from the workbench's own copy."""
    path = _shipped() / "fideslang.toml"
    return _validate(Fideslang, read_toml(path), f"{path.parent}/", "fideslang")


def shipped_steps(*, generic_only: bool = False) -> Steps:
    """The workbench's own steps.toml; ``generic_only``: without the wording of its systems, for a
    register of another firm that brings no steps of its own."""
    path = _shipped() / "steps.toml"
    steps = _validate(Steps, read_toml(path), f"{path.parent}/", "steps")
    return steps.model_copy(update={"systems": {}}) if generic_only else steps


def _validate(model: type[M], data: dict, label: str, file: str | None = None) -> M:
    """``data`` as ``model``: one file's content, or (``file`` None) file name -> content; every
    problem as ``file: key: message``."""
    try:
        return model.model_validate(data, context={"label": label})
    except ValidationError as exc:
        raise ConfigError(_problems(exc, label, file)) from None


def _problems(exc: ValidationError, label: str, file: str | None) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        name = file or (loc.pop(0) if loc else "register")
        key = ".".join(f'"{part}"' if "." in part else part for part in loc) or "(top level)"
        lines.append(f"{label}{name}.toml: {key}: {error['msg']}")
    return lines


def _read(directory: Path, label: str) -> dict[str, Any]:
    """The files of a register directory; every missing or malformed one is reported at once."""
    data, problems = {}, []
    for name in (*FILES, *OPTIONAL_FILES):
        path = directory / f"{name}.toml"
        if name in OPTIONAL_FILES and not path.exists():
            continue
        try:
            data[name] = read_toml(path)
        except ConfigError as exc:
            problems += [p.replace(str(path), f"{label}{name}.toml", 1) for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return data


def load(directory: Path | None = None) -> Register:
    """The register in a directory (default: the one shipped with the workbench), validated.

    Raises :class:`~workbench.configuration.ConfigError` listing every problem, each naming its
    file and key. A directory without ``steps.toml`` gets the generic wording of the steps.
    """
    root = _shipped() if directory is None else Path(directory)
    label = "workbench/config/register/" if directory is None else f"{Path(directory)}/"
    data = _read(root, label)
    if "steps" not in data:
        data["steps"] = shipped_steps(generic_only=True).model_dump()
    files = _validate(RegisterFiles, data, label)
    vocabulary = files.categories
    return Register(
        controller=files.controller,
        processors=files.processors,
        activities=files.activities,
        retention_rules=files.retention,
        categories=vocabulary.categories,
        systems=_link_systems(files.systems, files.processors, files.activities),
        uses=dict(vocabulary.uses),
        subjects=dict(vocabulary.subjects),
        fields={k: None if v == NONE else v for k, v in vocabulary.fields.items()},
        kinds={k: None if v == NONE else v for k, v in vocabulary.kinds.items()},
        steps=files.steps,
    )


def _link_systems(systems: dict[str, System], processors: dict[str, Processor],
                  activities: dict[str, Activity]) -> dict[str, System]:
    def others(key: str, main: str) -> Texts:
        return tuple(p for p, proc in processors.items() if key in proc.systems and p != main)

    return {
        key: s.model_copy(update={
            "activities": tuple(a for a, act in activities.items() if key in act.systems),
            "processors": (s.processor, *others(key, s.processor))})
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
