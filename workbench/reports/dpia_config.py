"""The DPIA's reviewed judgements as typed models: ``assessment.toml``, ``screening.toml``,
``risks.toml``, ``measures.toml`` and the report's words ``texts.<lang>.toml``.

Each file is validated on load; every problem of every file is collected into one
:class:`~workbench.configuration.ConfigError` naming the file and the key, so a reviewer fixes
them in one pass. The cross-references (a risk's measures are measures of ``measures.toml``, the
history ends with the current version, the AP's list has 17 types) are validators of the models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from workbench.configuration import ConfigError, ConfigModel, Text, load, problems, read_toml
from workbench.rights import requests

CONFIG_FILES = ("assessment", "screening", "risks", "measures")
Lang = Literal["nl", "en"]
LANGS: tuple[str, ...] = get_args(Lang)
Family = Literal["data", "general_security", "organisational"]
MeasureStatus = Literal["existing", "planned", "in_progress", "done"]
OPEN = ("planned", "in_progress")
DONE = ("existing", "done")  # a measure that is in place lowers the current level
Grade = Literal["low", "medium", "high"]
Status = Literal["draft", "validated", "rejected"]
Fact = Literal["national_ids", "birth_dates", "special_categories", "financial_records", "linked_subjects",
               "linked_systems", "location_data"]
LEVELS = (1, 2, 3, 4)
CNIL_RISKS = ("illegitimate_access", "unwanted_modification", "disappearance")
RIGHTS = ("access", "rectification", "restriction", "portability", "objection", "erasure")
SIGN_OFF = ("controller", "name", "role", "signed_on", "decision")
SCREENING_LISTS = {"art35_3": "Art. 35(3) GDPR", "edpb": "EDPB criteria (WP248 rev.01)",
                   "ap": "AP list of processing that needs a DPIA (17)"}
AP_TYPES = 17


Texts = Annotated[list[Text], Field(min_length=1)]
Check = Callable[[dict], list[tuple[tuple[str, ...], str]]]


def _also(check: Check) -> WrapValidator:
    """A check of a whole table that is reported beside its entries' own problems: pydantic skips
    an after-validator once an entry fails, and the reviewer should see every problem at once."""
    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        found = [InitErrorDetails(type=PydanticCustomError("config", "{problem}", {"problem": problem}),
                                  loc=loc, input=None)
                 for loc, problem in (check(value) if isinstance(value, dict) else [])]
        try:
            result = handler(value)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(exc.title, [*exc.errors(), *found]) from None
        if found:
            raise ValidationError.from_exception_data("configuration", found)
        return result
    return WrapValidator(validate)


def _present(keys: tuple[str, ...], why: str) -> WrapValidator:
    """Every one of ``keys`` is in the table."""
    return _also(lambda table: [((key,), f"missing; {why}") for key in keys if key not in table])
Level = Annotated[StrictInt, Field(ge=1, le=4)]


class _Model(ConfigModel):
    """TOML gives exact types, so none is coerced: ``"no"`` is no boolean, ``"2026-01-31"`` no date."""

    model_config = ConfigDict(strict=True)


# --- measures.toml --------------------------------------------------------------------------------

class Measure(_Model):
    family: Family
    cnil_measure: Text
    title: Text
    description: Text
    status: MeasureStatus
    owner: Text
    due: dt.date | None = None
    frequency: Text | None = None
    cost: Grade
    difficulty: Grade
    progress: Annotated[StrictInt, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _planned(self) -> Measure:
        if self.status in OPEN and self.due is None and self.frequency is None:
            raise ValueError("an open measure needs a due date or a frequency")
        return self

    @property
    def done(self) -> bool:
        """A measure lowers the current risk only when it is in place: existing or done, at 100%."""
        return self.status in DONE and self.progress == 100


class Measures(RootModel[Annotated[dict[str, Measure], Field(min_length=1)]]):
    model_config = ConfigDict(frozen=True, strict=True)


# --- risks.toml -----------------------------------------------------------------------------------

class ScaleLevel(_Model):
    en: Text
    nl: Text
    definition: Text


def _four_levels(levels: dict) -> list[tuple[tuple[str, ...], str]]:
    if sorted(levels) != [str(n) for n in LEVELS]:
        return [((), f"levels {sorted(levels)}; the scale has levels 1..4")]
    return []


Levels = Annotated[dict[str, ScaleLevel], _also(_four_levels)]


class Scale(_Model):
    severity: Levels
    likelihood: Levels

    def name(self, value: int) -> str:
        return f"{self.severity[str(value)].en} / {self.severity[str(value)].nl}"


class Risk(_Model):
    en: Text
    nl: Text
    impacts: Texts
    threats: Texts
    sources: Texts
    controls: list[Text]
    measures: Texts
    severity_before: Level
    severity_before_why: Text
    likelihood_before: Level
    likelihood_before_why: Text
    severity_after: Level
    severity_after_why: Text
    likelihood_after: Level
    likelihood_after_why: Text

    @field_validator("controls", "measures")
    @classmethod
    def _known(cls, keys: list[str], info: ValidationInfo) -> list[str]:
        known = (info.context or {}).get("measures")
        unknown = [k for k in keys if known is not None and k not in known]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} not a measure of measures.toml; "
                             f"expected one of {sorted(known)}")
        return keys


class Risks(_Model):
    scale: Scale
    risk: Annotated[dict[str, Risk], _present(CNIL_RISKS, "the CNIL method assesses illegitimate access, "
                                                          "unwanted modification and disappearance")]


# --- screening.toml -------------------------------------------------------------------------------

class Criterion(_Model):
    text: Text
    met: StrictBool
    why: Text
    source: Text
    fact: Fact | None = None


def _seventeen(entries: dict) -> list[tuple[tuple[str, ...], str]]:
    if len(entries) != AP_TYPES:
        return [((), f"{len(entries)} processing types; the AP's list has {AP_TYPES}")]
    return []


class Screening(_Model):
    edpb_threshold: Annotated[StrictInt, Field(ge=1)]
    art35_3: dict[str, Criterion]
    edpb: dict[str, Criterion]
    ap: Annotated[dict[str, Criterion], _also(_seventeen)]

    def group(self, name: str) -> dict[str, Criterion]:
        return getattr(self, name)


# --- assessment.toml ------------------------------------------------------------------------------

class SignOff(_Model):
    controller: StrictStr
    name: StrictStr
    role: StrictStr
    signed_on: StrictStr
    decision: StrictStr
    todo: dict[str, Text] = {}

    @model_validator(mode="after")
    def _said(self) -> SignOff:
        empty = [k for k in SIGN_OFF if not getattr(self, k).strip() and k not in self.todo]
        if empty:
            raise ValueError(f"{', '.join(empty)}: empty; give it, or say what is missing under [todo]")
        return self


class Dpo(_Model):
    appointed: StrictBool
    advice: StrictStr = ""
    reason: StrictStr = ""

    @model_validator(mode="after")
    def _explained(self) -> Dpo:
        _filled_one("advice" if self.appointed else "reason", self)
        return self


class DataSubjects(_Model):
    sought: StrictBool
    views: StrictStr = ""
    why_not: StrictStr = ""

    @model_validator(mode="after")
    def _explained(self) -> DataSubjects:
        _filled_one("views" if self.sought else "why_not", self)
        return self


def _filled_one(key: str, model: Any) -> None:
    if not getattr(model, key).strip():
        raise ValueError(f"{key}: missing or empty")


class Necessity(_Model):
    minimisation: Text
    accuracy: Text
    storage: Text


def _request_type(kind: str) -> str:
    if kind not in requests.TYPES:
        raise ValueError(f"{kind!r} is not a request type; expected one of {list(requests.TYPES)}")
    return kind


RequestType = Annotated[StrictStr, AfterValidator(_request_type)]


class Right(_Model):
    label: Text
    how: Text
    request_types: list[RequestType]


class Version(_Model):
    version: Text
    date: dt.date
    author: Text
    changes: Text


class Assessment(_Model):
    title: Text
    title_nl: Text | None = None
    title_en: Text | None = None
    version: Text
    status: Status
    language: Lang | None = None
    date: dt.date
    next_review: dt.date
    sparse_fill_rate: Annotated[float, Field(gt=0, lt=1)]
    context: Text
    sign_off: SignOff
    dpo: Dpo
    data_subjects: DataSubjects
    necessity: dict[str, Necessity]
    rights: Annotated[dict[str, Right], _present(RIGHTS, "say how the right is served")]
    history: Annotated[list[Version], Field(min_length=1)]

    @field_validator("next_review")
    @classmethod
    def _after(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        if "date" in info.data and value <= info.data["date"]:
            raise ValueError("must be after date")
        return value

    @field_validator("history")
    @classmethod
    def _current(cls, history: list[Version], info: ValidationInfo) -> list[Version]:
        """Every version, oldest first; the last entry is the current version."""
        dates = [v.date for v in history]
        if dates != sorted(dates):
            raise ValueError("the versions must be listed oldest first")
        if "version" in info.data and history[-1].version != info.data["version"]:
            raise ValueError(f"the last entry is version {history[-1].version!r}, not the current version "
                             f"{info.data['version']!r}")
        return history

    def title_in(self, lang: str) -> str:
        return getattr(self, f"title_{lang}", None) or self.title


# --- texts.<lang>.toml ----------------------------------------------------------------------------

class Words(_Model):
    """The report's own words in one language; every table maps a key to its text."""

    lang: Lang
    words: dict[str, str]
    status: dict[str, str]
    headings: dict[str, str]
    labels: dict[str, str]
    sign_off: dict[str, str]
    columns: dict[str, str]
    screening: dict[str, str]
    now: dict[str, str]
    prior: dict[str, str]
    summary: dict[str, str]
    kinds: dict[str, str]
    stages: dict[str, str]
    families: dict[str, str]
    verdicts: dict[str, str]

    def paths(self) -> set[str]:
        return {f"{table}.{key}" for table, words in self.model_dump().items() if isinstance(words, dict)
                for key in words}


# --- loading --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    assessment: Assessment
    screening: Screening
    risks: Risks
    measures: dict[str, Measure]
    label: str


def default_config() -> Path:
    return Path(str(resources.files("workbench") / "config" / "dpia"))


def load_config(folder: Path | None = None) -> Config:
    """The four DPIA files of ``folder`` (default: the shipped ones), validated; raises one
    :class:`ConfigError` listing every problem of every file with its file and key."""
    folder = Path(folder) if folder else default_config()
    label = "workbench/config/dpia/" if folder == default_config() else f"{folder}/"
    found: list[str] = []
    data: dict[str, Any] = {}
    for name in CONFIG_FILES:
        try:
            data[name] = read_toml(folder / f"{name}.toml")
        except ConfigError as exc:
            found += exc.problems
    if found:
        raise ConfigError(found)
    measures = data["measures"]
    context = {"measures": set(measures) if isinstance(measures, dict) else set()}
    models = (("measures", Measures), ("risks", Risks), ("screening", Screening), ("assessment", Assessment))
    parsed = {}
    for name, model in models:
        try:
            parsed[name] = model.model_validate(data[name], context=context)
        except ValidationError as exc:
            found += problems(exc, f"{label}{name}.toml")
    if found:
        raise ConfigError(found)
    return Config(parsed["assessment"], parsed["screening"], parsed["risks"], parsed["measures"].root, label)


def load_texts(lang: str, folder: Path | None = None) -> Words:
    """The report's words in ``lang`` (``texts.<lang>.toml`` of the DPIA folder, else the shipped
    one); raises :class:`ConfigError` for an unknown language or a key missing against the English
    file."""
    if lang not in LANGS:
        raise ConfigError([f"--lang: {lang!r} is not one of {list(LANGS)}"])
    texts = {}
    for code in dict.fromkeys([lang, "en"]):
        own = Path(folder) / f"texts.{code}.toml" if folder else None
        path = own if own is not None and own.is_file() else default_config() / f"texts.{code}.toml"
        texts[code] = load(path, Words)
    missing = sorted(texts["en"].paths() - texts[lang].paths())
    if missing:
        raise ConfigError([f"texts.{lang}.toml: {key}: missing (texts.en.toml has it)" for key in missing])
    return texts[lang]

