"""The DPIA-style report: the CNIL PIA method and the Dutch Model DPIA
Rijksdienst, checked against the checklist D35-01..D35-12 of the research notes.

Judgements are reviewed data in ``config/dpia/`` (or another firm's folder): ``assessment.toml``
(version, status, dates, sign-off, DPO, views of the people concerned, the minimisation,
accuracy and storage arguments per purpose, how each right is served), ``screening.toml``
(Art. 35(3), the EDPB criteria and the AP's list of 17), ``risks.toml`` (the four-level scale
and the three CNIL risks, each level justified) and ``measures.toml`` (the catalogue in CNIL
families, with the action plan's owner, due date, cost and progress). All four are validated on
load; every problem names its file and key. The report's own words (headings, column heads, the
sentences around the figures) are data too, one file per language: ``texts.nl.toml`` (the
default for this firm) and ``texts.en.toml``.

Risk levels are kept apart: before the measures, now (a measure counts only once it is done:
status done or existing at 100%), and the target once every planned measure is done. Art. 36 is
judged on the target; the current level says how far the firm is from it.

Everything countable is computed from the register and the workspace: subjects and records per
data category, systems and flows, the necessity findings (fields almost always empty, national
identifiers and birth dates no purpose declares, records past their retention, invalid
identifiers), the request figures per right, the risk levels, whether Art. 36 applies and the
management summary. Examples are masked.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import inventory, policy_audit, requests
from workbench.dashboard import location, rollup
from workbench.errors import WorkbenchError
from workbench.masking import mask
from workbench.register import LEGAL_BASES, SAFEGUARDS, Processor, Register
from workbench.safe_files import owner_only, write_csv, write_pdf
from workbench.workspace import RAW_VALUES_SQL, Workspace

CONFIG_FILES = ("assessment", "screening", "risks", "measures")
LANGS = ("nl", "en")
DEFAULT_LANG = "nl"  # the firm's language; `language` in assessment.toml overrides it
DONE = ("existing", "done")  # a measure that is in place lowers the current level
FINANCIAL_FACT = "financial_records"  # WP248 criterion 4 names financial data as highly personal
HISTORY_KEYS = ("version", "date", "author", "changes")
FAMILIES = {"data": "Measures on the data", "general_security": "General security measures",
            "organisational": "Organisational measures"}
MEASURE_STATUSES = ("existing", "planned", "in_progress", "done")
OPEN = ("planned", "in_progress")
GRADES = ("low", "medium", "high")
LEVELS = (1, 2, 3, 4)
CNIL_RISKS = ("illegitimate_access", "unwanted_modification", "disappearance")
RIGHTS = ("access", "rectification", "restriction", "portability", "objection", "erasure")
STATUSES = ("draft", "validated", "rejected")
SIGN_OFF = ("controller", "name", "role", "signed_on", "decision")
SCREENING_LISTS = {"art35_3": "Art. 35(3) GDPR", "edpb": "EDPB criteria (WP248 rev.01)",
                   "ap": "AP list of processing that needs a DPIA (17)"}
AP_TYPES = 17
FACTS = ("national_ids", "birth_dates", "special_categories", "financial_records", "linked_subjects",
         "linked_systems", "location_data")
BIRTH_DATE = "user.demographic.date_of_birth"
ART36 = ("Art. 36(1) GDPR (AVG): prior consultation of the Autoriteit Persoonsgegevens before the "
         "processing when the assessment shows a high residual risk the controller cannot mitigate")
EXAMPLES = 3
CHECKLIST = {  # D35 id -> (the report's section, the key of dpia.json that holds it)
    "D35-01": ("Systematic description", "description"),
    "D35-02": ("Necessity and proportionality", "necessity"),
    "D35-03": ("Rights of the people concerned", "rights"),
    "D35-04": ("Risks", "risks"),
    "D35-05": ("Measures", "measures"),
    "D35-06": ("Action plan", "actions"),
    "D35-07": ("Prior consultation (Art. 36)", "prior_consultation"),
    "D35-08": ("DPO advice and views of the people concerned", "advice"),
    "D35-09": ("Validation and sign-off", "validation"),
    "D35-10": ("Screening", "screening"),
    "D35-11": ("Management summary", "summary"),
    "D35-12": ("Machine-readable companions", "companions"),
}
COMPANIONS = ("dpia.json", "risks.csv", "measures.csv")


class DpiaConfigError(WorkbenchError):
    """DPIA configuration files that do not follow the schema; lists every problem with file and key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Assessment:
    meta: dict
    screening: dict
    description: dict
    necessity: pd.DataFrame
    findings: pd.DataFrame
    rights: pd.DataFrame
    risks: pd.DataFrame
    actions: pd.DataFrame
    prior_consultation: dict
    policy_findings: list
    summary: list[str]
    texts: dict = field(default_factory=dict)


# --- the reviewed configuration -----------------------------------------------------------------

@dataclass
class Config:
    assessment: dict
    screening: dict
    risks: dict
    measures: dict
    label: str


class _Checker:
    """Collects every problem of the four files, each with its file and key."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []

    def error(self, file: str, key: str, problem: str) -> None:
        self.problems.append(f"{self.label}{file}.toml: {key}: {problem}")

    def keys(self, file: str, where: str, table: dict, allowed: set[str]) -> None:
        for key in sorted(table.keys() - allowed):
            self.error(file, f"{where}.{key}", f"unknown key; expected one of {sorted(allowed)}")

    def text(self, file: str, where: str, table: dict, key: str, empty_ok: bool = False) -> str:
        value = table.get(key)
        if not isinstance(value, str) or (not value.strip() and not empty_ok):
            self.error(file, f"{where}.{key}", "missing or not a non-empty string")
            return ""
        if not value.strip() and key not in table.get("todo", {}):
            self.error(file, f"{where}.{key}", "is empty; give it, or say what is missing under [todo]")
        return value

    def one_of(self, file: str, where: str, table: dict, key: str, allowed: tuple) -> Any:
        value = table.get(key)
        if value not in allowed:
            self.error(file, f"{where}.{key}", f"{value!r} is not one of {list(allowed)}")
        return value

    def table(self, file: str, where: str, value: Any) -> dict:
        if not isinstance(value, dict):
            self.error(file, where, "missing or not a table")
            return {}
        return value

    def strings(self, file: str, where: str, table: dict, key: str, nonempty: bool = True) -> list[str]:
        value = table.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value) \
                or (nonempty and not value):
            self.error(file, f"{where}.{key}", "must be a non-empty list of strings" if nonempty
                       else "must be a list of strings")
            return []
        return value


def default_config() -> Path:
    return Path(str(resources.files("workbench") / "config" / "dpia"))


def load_config(folder: Path | None = None) -> Config:
    """The four DPIA files of ``folder`` (default: the shipped ones), validated; raises
    :class:`DpiaConfigError` listing every problem with its file and key."""
    folder = Path(folder) if folder else default_config()
    label = "workbench/config/dpia/" if folder == default_config() else f"{folder}/"
    check = _Checker(label)
    data = {}
    for name in CONFIG_FILES:
        path = folder / f"{name}.toml"
        try:
            data[name] = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            check.problems.append(f"{label}{name}.toml: missing; a DPIA folder needs "
                                  f"{', '.join(CONFIG_FILES)}")
        except tomllib.TOMLDecodeError as exc:
            check.problems.append(f"{label}{name}.toml: not valid TOML ({exc})")
    if check.problems:
        raise DpiaConfigError(check.problems)
    measures = _check_measures(check, data["measures"])
    _check_risks(check, data["risks"], measures)
    _check_screening(check, data["screening"])
    _check_assessment(check, data["assessment"])
    if check.problems:
        raise DpiaConfigError(check.problems)
    return Config(data["assessment"], data["screening"], data["risks"], measures, label)


def load_texts(lang: str, folder: Path | None = None) -> dict:
    """The report's words in ``lang`` (``texts.<lang>.toml`` of the DPIA folder, else the shipped
    one); raises :class:`DpiaConfigError` for an unknown language or a key missing against the
    English file."""
    if lang not in LANGS:
        raise DpiaConfigError([f"language {lang!r} is not one of {list(LANGS)}"])
    texts = {}
    for code in dict.fromkeys([lang, "en"]):
        own = Path(folder) / f"texts.{code}.toml" if folder else None
        path = own if own is not None and own.is_file() else default_config() / f"texts.{code}.toml"
        texts[code] = tomllib.loads(path.read_text("utf-8"))
    missing = sorted(_keys(texts["en"]) - _keys(texts[lang]))
    if missing:
        raise DpiaConfigError([f"texts.{lang}.toml: {key}: missing (texts.en.toml has it)"
                               for key in missing])
    return texts[lang]


def _keys(table: dict, prefix: str = "") -> set[str]:
    return {k for key, value in table.items()
            for k in (_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key})}


_MEASURE_KEYS = {"family", "cnil_measure", "title", "description", "status", "owner", "due", "frequency",
                 "cost", "difficulty", "progress"}


def _check_measures(check: _Checker, data: dict) -> dict:
    if not data:
        check.error("measures", "[<key>]", "no measures; the catalogue needs at least one")
    for key, m in data.items():
        where = f"[{key}]"
        if not check.table("measures", where, m):
            continue
        check.keys("measures", where, m, _MEASURE_KEYS)
        check.one_of("measures", where, m, "family", tuple(FAMILIES))
        for text in ("cnil_measure", "title", "description", "owner"):
            check.text("measures", where, m, text)
        status = check.one_of("measures", where, m, "status", MEASURE_STATUSES)
        for grade in ("cost", "difficulty"):
            check.one_of("measures", where, m, grade, GRADES)
        progress = m.get("progress")
        if not isinstance(progress, int) or isinstance(progress, bool) or not 0 <= progress <= 100:
            check.error("measures", f"{where}.progress", f"{progress!r} is not a whole percentage 0-100")
        if "due" in m and not isinstance(m["due"], date):
            check.error("measures", f"{where}.due", "must be a date (YYYY-MM-DD, unquoted)")
        if "frequency" in m:
            check.text("measures", where, m, "frequency")
        if status in OPEN and "due" not in m and "frequency" not in m:
            check.error("measures", where, "an open measure needs a due date or a frequency")
    return data


_RISK_KEYS = {"en", "nl", "impacts", "threats", "sources", "controls", "measures"} | {
    f"{axis}_{phase}{why}" for axis in ("severity", "likelihood") for phase in ("before", "after")
    for why in ("", "_why")}


def _check_risks(check: _Checker, data: dict, measures: dict) -> None:
    scale = check.table("risks", "[scale]", data.get("scale"))
    for axis in ("severity", "likelihood"):
        levels = check.table("risks", f"[scale.{axis}]", scale.get(axis))
        if levels and sorted(levels) != [str(n) for n in LEVELS]:
            check.error("risks", f"[scale.{axis}]", f"levels {sorted(levels)}; the scale has levels 1..4")
        for level, entry in levels.items():
            where = f"[scale.{axis}.{level}]"
            if check.table("risks", where, entry):
                check.keys("risks", where, entry, {"en", "nl", "definition"})
                for key in ("en", "nl", "definition"):
                    check.text("risks", where, entry, key)
    risks = check.table("risks", "[risk]", data.get("risk"))
    for key in CNIL_RISKS:
        if risks and key not in risks:
            check.error("risks", f"[risk.{key}]", "missing; the CNIL method assesses illegitimate access, "
                                                  "unwanted modification and disappearance")
    for key, risk in risks.items():
        where = f"[risk.{key}]"
        if not check.table("risks", where, risk):
            continue
        check.keys("risks", where, risk, _RISK_KEYS)
        for text in ("en", "nl"):
            check.text("risks", where, risk, text)
        for items in ("impacts", "threats", "sources"):
            check.strings("risks", where, risk, items)
        for links, nonempty in (("controls", False), ("measures", True)):
            for measure in check.strings("risks", where, risk, links, nonempty):
                if measure not in measures:
                    check.error("risks", f"{where}.{links}", f"{measure!r} is not a measure of "
                                f"measures.toml; expected one of {sorted(measures)}")
        for axis in ("severity", "likelihood"):
            for phase in ("before", "after"):
                level = risk.get(f"{axis}_{phase}")
                if level not in LEVELS or isinstance(level, bool):
                    check.error("risks", f"{where}.{axis}_{phase}", f"{level!r} is not a level 1..4")
                why = risk.get(f"{axis}_{phase}_why")
                if not isinstance(why, str) or not why.strip():
                    check.error("risks", f"{where}.{axis}_{phase}_why",
                                "missing justification: every level needs its written reason")


def _check_screening(check: _Checker, data: dict) -> None:
    threshold = data.get("edpb_threshold")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        check.error("screening", "edpb_threshold", f"{threshold!r} is not a whole number of criteria >= 1")
    check.keys("screening", "", data, {"edpb_threshold", *SCREENING_LISTS})
    for group in SCREENING_LISTS:
        entries = check.table("screening", f"[{group}]", data.get(group))
        if group == "ap" and entries and len(entries) != AP_TYPES:
            check.error("screening", "[ap]", f"{len(entries)} processing types; the AP's list has {AP_TYPES}")
        for key, entry in entries.items():
            where = f"[{group}.{key}]"
            if not check.table("screening", where, entry):
                continue
            check.keys("screening", where, entry, {"text", "met", "why", "source", "fact"})
            for text in ("text", "why", "source"):
                check.text("screening", where, entry, text)
            if not isinstance(entry.get("met"), bool):
                check.error("screening", f"{where}.met", "must be true or false (the reviewer's judgement)")
            if "fact" in entry:
                check.one_of("screening", where, entry, "fact", FACTS)


def _check_assessment(check: _Checker, data: dict) -> None:
    check.keys("assessment", "", data, {"title", "version", "status", "date", "next_review", "context",
                                        "sparse_fill_rate", "sign_off", "dpo", "data_subjects", "necessity",
                                        "rights", "language", "history", "title_nl", "title_en"})
    if "language" in data:
        check.one_of("assessment", "", data, "language", LANGS)
    for key in ("title_nl", "title_en"):  # the title in one language; `title` otherwise
        if key in data:
            check.text("assessment", "", data, key)
    _check_history(check, data)
    for key in ("title", "version", "context"):
        check.text("assessment", "", data, key)
    check.one_of("assessment", "", data, "status", STATUSES)
    for key in ("date", "next_review"):
        if not isinstance(data.get(key), date):
            check.error("assessment", key, "must be a date (YYYY-MM-DD, unquoted)")
    if isinstance(data.get("date"), date) and isinstance(data.get("next_review"), date) \
            and data["next_review"] <= data["date"]:
        check.error("assessment", "next_review", "must be after date")
    rate = data.get("sparse_fill_rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate < 1:
        check.error("assessment", "sparse_fill_rate", f"{rate!r} is not a fraction between 0 and 1")
    sign = check.table("assessment", "[sign_off]", data.get("sign_off"))
    if sign:
        check.keys("assessment", "[sign_off]", sign, {*SIGN_OFF, "todo"})
        for key in SIGN_OFF:
            check.text("assessment", "[sign_off]", sign, key, empty_ok=True)
    dpo = check.table("assessment", "[dpo]", data.get("dpo"))
    if dpo:
        check.keys("assessment", "[dpo]", dpo, {"appointed", "advice", "reason"})
        if not isinstance(dpo.get("appointed"), bool):
            check.error("assessment", "[dpo].appointed", "must be true or false")
        check.text("assessment", "[dpo]", dpo, "advice" if dpo.get("appointed") else "reason")
    views = check.table("assessment", "[data_subjects]", data.get("data_subjects"))
    if views:
        check.keys("assessment", "[data_subjects]", views, {"sought", "views", "why_not"})
        if not isinstance(views.get("sought"), bool):
            check.error("assessment", "[data_subjects].sought", "must be true or false")
        check.text("assessment", "[data_subjects]", views, "views" if views.get("sought") else "why_not")
    for key, entry in check.table("assessment", "[necessity]", data.get("necessity")).items():
        where = f"[necessity.{key}]"
        if check.table("assessment", where, entry):
            check.keys("assessment", where, entry, {"minimisation", "accuracy", "storage"})
            for text in ("minimisation", "accuracy", "storage"):
                check.text("assessment", where, entry, text)
    rights = check.table("assessment", "[rights]", data.get("rights"))
    for right in RIGHTS:
        if rights and right not in rights:
            check.error("assessment", f"[rights.{right}]", "missing; say how the right is served")
    for key, entry in rights.items():
        where = f"[rights.{key}]"
        if check.table("assessment", where, entry):
            check.keys("assessment", where, entry, {"label", "how", "request_types"})
            check.text("assessment", where, entry, "label")
            check.text("assessment", where, entry, "how")
            for kind in check.strings("assessment", where, entry, "request_types", nonempty=False):
                if kind not in requests.TYPES:
                    check.error("assessment", f"{where}.request_types",
                                f"{kind!r} is not a request type; expected one of {list(requests.TYPES)}")


def _check_history(check: _Checker, data: dict) -> None:
    """[[history]]: every version with its date, author and changes; the current version is its
    last entry, and the dates run forward."""
    history = data.get("history")
    if not isinstance(history, list) or not history:
        check.error("assessment", "[[history]]", "missing: list every version with date, author and changes")
        return
    for i, entry in enumerate(history):
        where = f"[[history]][{i}]"
        if not check.table("assessment", where, entry):
            continue
        check.keys("assessment", where, entry, set(HISTORY_KEYS))
        for key in ("version", "author", "changes"):
            check.text("assessment", where, entry, key)
        if not isinstance(entry.get("date"), date):
            check.error("assessment", f"{where}.date", "must be a date (YYYY-MM-DD, unquoted)")
    dates = [e.get("date") for e in history if isinstance(e, dict)]
    if all(isinstance(d, date) for d in dates) and dates != sorted(dates):
        check.error("assessment", "[[history]]", "the versions must be listed oldest first")
    last = history[-1] if isinstance(history[-1], dict) else {}
    if last.get("version") != data.get("version"):
        check.error("assessment", "[[history]]", f"the last entry is version {last.get('version')!r}, "
                                                 f"not the current version {data.get('version')!r}")


# --- computing the assessment ---------------------------------------------------------------------

def level(severity: int, likelihood: int) -> int:
    """The risk level: the geometric mean of severity and likelihood, rounded up."""
    return math.isqrt(severity * likelihood - 1) + 1


def assess(ws: Workspace, register: Register, *, activity: str | None = None, today: date | None = None,
           policy: Path | None = None, config: Path | None = None, lang: str | None = None,
           policy_findings: list[policy_audit.Finding] | None = None) -> Assessment:
    """The whole assessment of every processing activity of the register, or of one, in ``lang``
    (default: the assessment's ``language``, else Dutch). ``policy_findings`` are the findings of
    :func:`workbench.policy_audit.findings` when the caller has them (the annual report), so both
    reports show the same ones."""
    cfg = load_config(config)
    texts = load_texts(lang or cfg.assessment.get("language", DEFAULT_LANG), config)
    if not ws.exists:
        raise WorkbenchError(f"{ws.path}: nothing imported yet; run 'workbench import' or 'workbench demo'")
    tables = ws.query("SELECT table_name FROM information_schema.tables").table_name
    if "subjects" not in set(tables):
        raise WorkbenchError("no subjects yet: run 'workbench link' first (the report counts subjects)")
    unknown = sorted(set(cfg.assessment.get("necessity", {})) - set(register.activities))
    if unknown:
        raise DpiaConfigError([f"{cfg.label}assessment.toml: [necessity.{k}]: not an activity of the "
                               f"register; expected one of {sorted(register.activities)}" for k in unknown])
    if activity is not None and activity not in register.activities:
        raise WorkbenchError(f"--activity {activity!r} is not a processing activity of the register; "
                             f"known: {', '.join(register.activities)}")
    today = today or date.today()
    keys = [activity] if activity else list(register.activities)
    systems = sorted({s for k in keys for s in register.activities[k].systems})
    fields = inventory.build(ws, register)
    fields = fields[fields.service.isin(systems)].reset_index(drop=True)
    coverage = _coverage(ws, fields)
    sparse = float(cfg.assessment["sparse_fill_rate"])
    counted = _counted(ws, register, fields, sparse)
    findings = _findings(ws, register, counted, systems, today, sparse)
    facts, financial = _facts(ws, fields, counted, coverage, systems)
    risks = _risks(cfg, texts)
    actions = _actions(cfg, today)
    prior = _prior_consultation(risks, texts)
    found = policy_findings if policy_findings is not None else \
        policy_audit.findings(ws, register, policy=policy, today=today)
    screening = _screening(cfg, facts, financial, texts)
    description = _description(ws, register, keys, systems, coverage, cfg, texts)
    rights = _rights(ws, cfg, today)
    necessity = _necessity(register, keys, cfg, findings, texts)
    meta = _meta(cfg, register, activity, today, texts)
    summary = _summary(meta, screening, description, findings, risks, actions, prior, found, texts)
    return Assessment(meta, screening, description, necessity, findings, rights, risks, actions, prior, found,
                      summary, texts)


def _newest(ws: Workspace) -> pd.DataFrame:
    return ws.query("""SELECT service, export_kind, max(import_id) AS import_id FROM imports
                       GROUP BY service, export_kind ORDER BY service, export_kind""")


def _coverage(ws: Workspace, fields: pd.DataFrame) -> pd.DataFrame:
    """Per export and rolled-up personal category, one row per record holding a value of it and
    linked subject behind the record: service, export_kind, category, source_row, subject_id
    (None for a record of no linked party)."""
    personal = fields[fields.personal.eq(True) & fields.category.notna()]
    parts = []
    for export in _newest(ws).itertuples():
        cols = personal[(personal.service == export.service) & (personal.export_kind == export.export_kind)]
        if cols.empty:
            continue
        names = cols.column.tolist()
        rolled = cols.category.map(rollup).tolist()
        cats = sorted(set(rolled))
        tests = [" OR ".join(f"coalesce(v[{i + 1}], '') <> ''" for i, c in enumerate(rolled) if c == cat)
                 for cat in cats]
        values = RAW_VALUES_SQL.format(names="?::VARCHAR[]")
        rows = ws.query(
            f"WITH r AS (SELECT source_row, {values} AS v FROM raw_records "
            "WHERE import_id = ?), who AS (SELECT source_row, party_key FROM parties WHERE import_id = ? "
            "UNION SELECT source_row, party_key FROM documents WHERE import_id = ?) "
            "SELECT r.source_row, s.subject_id, " + ", ".join(f"({t}) AS c{i}" for i, t in enumerate(tests))
            + " FROM r LEFT JOIN who USING (source_row) LEFT JOIN subjects s ON s.service = ? AND "
            "s.export_kind = ? AND s.party_key = who.party_key",
            [names, *[int(export.import_id)] * 3, export.service, export.export_kind])
        for i, cat in enumerate(cats):
            hit = rows[rows[f"c{i}"]]
            parts.append(pd.DataFrame({"service": export.service, "export_kind": export.export_kind,
                                       "category": cat, "source_row": hit.source_row,
                                       "subject_id": hit.subject_id}))
    columns = ["service", "export_kind", "category", "source_row", "subject_id"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _counted(ws: Workspace, register: Register, fields: pd.DataFrame, sparse: float) -> pd.DataFrame:
    """The personal columns the findings and facts look at (sensitive ones and those filled below
    ``sparse``) with ``kind`` (sensitive kind or None), ``filled`` (records of the newest import
    with a value) and ``total`` (its records): one query per export."""
    personal = fields[fields.personal.eq(True) & fields.category.notna()].copy()
    personal["kind"] = personal.category.map(lambda c: _sensitive_kind(register, c))
    chosen = personal[personal.kind.notna() | (personal.fill_rate < sparse)]
    newest = _newest(ws).set_index(["service", "export_kind"]).import_id
    parts = []
    for (service, export_kind), group in chosen.groupby(["service", "export_kind"]):
        names = group.column.tolist()
        row = ws.query("SELECT count(*) AS total, " + ", ".join(
            f"count(*) FILTER (WHERE coalesce(v[{i + 1}], '') <> '') AS c{i}" for i in range(len(names)))
            + f" FROM (SELECT {RAW_VALUES_SQL.format(names='?::VARCHAR[]')} AS v FROM raw_records "
              "WHERE import_id = ?)",
            [names, int(newest[(service, export_kind)])]).iloc[0]
        filled = [int(row[f"c{i}"]) for i in range(len(names))]
        parts.append(group.assign(filled=filled, total=int(row.total)))
    return pd.concat(parts, ignore_index=True) if parts else chosen.assign(filled=0, total=0)


FINDING_COLUMNS = ["kind", "system", "export_kind", "column", "category", "count", "detail"]
FINDING_KINDS = {  # kind -> what its count counts, in the order the summary names them
    "national_identifier": "national identifier values (BSN) without a purpose that needs them",
    "birth_date": "birth dates without a declared purpose",
    "special_category": "special-category values without a declared purpose",
    "past_retention": "records kept past every retention rule",
    "invalid_identifier": "invalid identifiers",
    "sparse_field": "personal fields collected but almost always empty",
}


def _findings(ws: Workspace, register: Register, counted: pd.DataFrame, systems: list[str],
              today: date, sparse: float) -> pd.DataFrame:
    """The necessity findings computed from the data: undeclared national identifiers, birth dates
    and special categories; personal fields almost always empty; records past every retention
    rule; invalid identifiers."""
    rows = []
    flagged = counted.kind.notna() & ~counted.declared.astype(bool) & counted.filled.gt(0)
    for f in counted[flagged].itertuples():
        rows.append([f.kind, f.service, f.export_kind, f.column, f.category, f.filled,
                     f"{_label(register, f.category)}: {f.filled} of {f.total} records hold one; no purpose "
                     f"of this system declares it (Art. 5(1)(c)); examples (masked): {f.examples or '-'}"])
    for f in counted[~flagged & (counted.fill_rate < sparse)].itertuples():
        share = f.filled / f.total if f.total else 0
        rows.append(["sparse_field", f.service, f.export_kind, f.column, f.category, f.filled,
                     f"filled in {f.filled} of {f.total} records ({share:.1%}), below {sparse:.0%}: "
                     "collected but almost always empty; could the field go?"])
    late = policy_audit.past_retention(ws, register, today)
    for r in late[late.service.isin(systems)].itertuples():
        bound = f"kept until {r.kept_until}" if r.kept_until else "no bounded retention rule"
        years = f"{r.longest_rule_years:g} years" if r.longest_rule_years is not None else "no period"
        rows.append(["past_retention", r.service, r.export_kind, "", f"records of {r.year}", int(r.records),
                     f"older than the longest retention rule of the system ({years}): {bound}"])
    for r in _invalid(ws, systems).itertuples():
        rows.append(["invalid_identifier", r.service, "", "", r.kind, int(r.invalid),
                     f"{r.invalid} of {r.checked} {r.kind} values fail their check; examples (masked): "
                     + ", ".join(mask(v, r.kind) for v in list(r.examples)[:EXAMPLES])])
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _sensitive_kind(register: Register, category: str) -> str | None:
    info = register.categories.get(category)
    if info is not None and info.national_id:
        return "national_identifier"
    if category == BIRTH_DATE or category.startswith(BIRTH_DATE + "."):
        return "birth_date"
    if info is not None and info.special:
        return "special_category"
    return None


def _invalid(ws: Workspace, systems: list[str]) -> pd.DataFrame:
    """Per system and identifier kind: values that fail their check, with a few of them."""
    return ws.query("""SELECT service, kind, count(*) FILTER (WHERE NOT valid) AS invalid,
                              count(*) AS checked,
                              list(raw_value ORDER BY raw_value) FILTER (WHERE NOT valid) AS examples
                       FROM identifiers WHERE service IN (SELECT unnest(?::VARCHAR[]))
                       GROUP BY ALL HAVING invalid > 0 ORDER BY ALL""", [systems])


def _facts(ws: Workspace, fields: pd.DataFrame, counted: pd.DataFrame, coverage: pd.DataFrame,
           systems: list[str]) -> tuple[dict[str, str], int]:
    """The computed figures shown beside the screening judgements, and the number of records
    holding financial data."""
    def values(kind: str) -> int:
        return int(counted[counted.kind == kind].filled.sum())

    subjects = _subjects(ws, systems)
    spread = subjects.groupby("subject_id").service.nunique()
    financial = coverage[coverage.category.str.startswith("user.financial")]
    financial_records = len(financial.drop_duplicates(["service", "export_kind", "source_row"]))
    located = fields[fields.category.fillna("").str.startswith("user.location")]
    return {
        "national_ids": f"{values('national_identifier')} national identifier values (BSN) found in the data",
        "birth_dates": f"{values('birth_date')} birth dates found in the data",
        "special_categories": f"{values('special_category')} special-category values found in the data",
        "financial_records": f"{len(financial.drop_duplicates(['service', 'export_kind', 'source_row']))} "
                             "records hold financial data (bank account, card)",
        "linked_subjects": f"{spread.size} linked data subjects in {len(systems)} systems",
        "linked_systems": f"{int((spread >= 2).sum())} of {spread.size} subjects are linked across two or "
                          "more systems",
        "location_data": f"{len(located)} imported columns hold location data",
    }, financial_records


def _subjects(ws: Workspace, systems: list[str]) -> pd.DataFrame:
    return ws.query("SELECT DISTINCT subject_id, service FROM subjects WHERE service IN "
                    "(SELECT unnest(?::VARCHAR[]))", [systems])


def _screening(cfg: Config, facts: dict[str, str], financial: int, texts: dict) -> dict:
    """D35-10: the reviewed criteria with the computed facts beside them, and the verdict. An EDPB
    criterion whose fact is the financial records is met whenever the data holds financial data
    (WP248 criterion 4: "financial data that might be used for payment fraud"), whatever the
    reviewer ticked, so the verdict follows WP248."""
    data, words = cfg.screening, texts["screening"]
    criteria = []
    for group in SCREENING_LISTS:
        for key, e in data[group].items():
            fact = facts.get(e.get("fact", ""), "")
            met, why = e["met"], e["why"]
            if group == "edpb" and e.get("fact") == FINANCIAL_FACT and financial and not met:
                met, why = True, f"{words['financial'].format(fact=fact)}. {why}"
            criteria.append({"id": f"{group}.{key}", "list": SCREENING_LISTS[group], "text": e["text"],
                             "met": met, "why": why, "source": e["source"], "fact": fact})
    met = {group: [c for c in criteria if c["met"] and c["id"].startswith(group + ".")]
           for group in SCREENING_LISTS}
    reasons = [f"{c['list']}: {c['text']}" for c in met["art35_3"] + met["ap"]]
    if len(met["edpb"]) >= data["edpb_threshold"]:
        reasons.append(words["edpb_met"].format(met=len(met["edpb"]), threshold=data["edpb_threshold"]))
    mandatory = bool(reasons)
    label = words["mandatory"] if mandatory else words["voluntary"]
    why = "; ".join(reasons) if mandatory else words["not_mandatory"].format(
        met=len(met["edpb"]), total=sum(1 for c in criteria if c["id"].startswith("edpb.")),
        threshold=data["edpb_threshold"])
    return {"mandatory": mandatory, "label": label, "why": why, "criteria": criteria,
            "met": {group: len(items) for group, items in met.items()}}


def _description(ws: Workspace, register: Register, keys: list[str], systems: list[str],
                 coverage: pd.DataFrame, cfg: Config, texts: dict) -> dict:
    """D35-01: nature, scope, context, purposes, categories, subjects, recipients, systems, flows,
    locations and transfers, retention and legitimate interests."""
    acts = [register.activities[k] for k in keys]
    nl = texts["lang"] == "nl"
    processors = sorted({p for s in systems for p in register.systems[s].processors})
    newest = ws.query("SELECT service, sum(rows) AS records, count(*) AS exports FROM imports "
                      "WHERE import_id IN (SELECT max(import_id) FROM imports GROUP BY service, export_kind) "
                      "GROUP BY service")
    held = newest.set_index("service")
    subjects = _subjects(ws, systems)
    categories = []
    for cat, group in coverage.groupby("category"):
        info = register.categories.get(cat)
        categories.append({
            "category": cat, "label": _label(register, cat), "label_nl": info.label_nl if info else cat,
            "systems": ", ".join(sorted({register.systems[s].name for s in group.service})),
            "records": int(len(group.drop_duplicates(["service", "export_kind", "source_row"]))),
            "subjects": int(group.subject_id.dropna().nunique()),
            "declared": any(register.declared(cat, s) for s in set(group.service)),
        })
    rules = sorted({a.retention for a in acts})
    return {
        "scope": texts["summary"]["scope_all"] if len(keys) > 1
        else texts["summary"]["scope_one"].format(key=keys[0]),
        "context": cfg.assessment["context"],
        "controller": f"{register.controller.name}, {register.controller.address}, "
                      f"{register.controller.postcode} {register.controller.city}",
        "subjects": int(subjects.subject_id.nunique()),
        "records": int(held.reindex(systems).records.fillna(0).sum()),
        "activities": [{
            "key": a.key, "name": a.name_en, "name_nl": a.name_nl, "purpose": a.purpose_en,
            "purpose_nl": a.purpose_nl, "legal_basis": LEGAL_BASES[a.legal_basis],
            "data_subjects": ", ".join(_term(register.subjects[s], nl) for s in a.data_subjects),
            "data_categories": ", ".join(_term(register.categories[c], nl) for c in a.data_categories),
            "systems": ", ".join(register.systems[s].name for s in a.systems),
            "recipients": ", ".join(register.processors[p].name for p in a.recipients),
            "retention": _period(register.retention_rules[a.retention], nl),
        } for a in acts],
        "categories": sorted(categories, key=lambda c: -c["subjects"]),
        "systems": [{
            "key": s, "name": register.systems[s].name,
            "processors": ", ".join(register.processors[p].name for p in register.systems[s].processors),
            "location": ", ".join(location(register, p) for p in register.systems[s].processors),
            "exports": int(held.exports.get(s, 0)), "records": int(held.records.get(s, 0)),
            "subjects": int(subjects[subjects.service == s].subject_id.nunique()),
            "activities": ", ".join(a for a in register.systems[s].activities if a in keys),
        } for s in systems],
        "flows": _flows(register, systems, processors, coverage, held, texts["stages"]),
        "recipients": [_recipient(register.processors[p]) for p in processors],
        "transfers": [_transfer(register.processors[p]) for p in processors],
        "retention": [{
            "rule": r, "name": register.retention_rules[r].name,
            "period": _period(register.retention_rules[r], nl), "after": register.retention_rules[r].after,
            "motivation": register.retention_rules[r].motivation,
            "legal_reference": register.retention_rules[r].legal_reference,
            "on_erasure": register.retention_rules[r].on_erasure,
            "activities": ", ".join(a.key for a in acts if a.retention == r),
        } for r in rules],
        "legitimate_interests": [{"activity": a.name_en, "basis": a.legal_basis_detail, "assessment": a.lia}
                                 for a in acts if a.legal_basis == "legitimate_interests"],
    }


def _term(term: Any, nl: bool) -> str:
    """A category or data subject's label in the report's language."""
    return term.label_nl if nl else term.label_en


def _period(rule: Any, nl: bool) -> str:
    return rule.period_nl if nl and rule.period_nl else rule.period_text


def _label(register: Register, category: str) -> str:
    info = register.categories.get(category)
    return info.label_en if info else category


def _recipient(p: Processor) -> dict:
    return {"key": p.key, "name": p.name, "role": p.role, "services": ", ".join(p.services),
            "agreement": f"{p.agreement_status} {p.agreement_date}".strip()}


def _transfer(p: Processor) -> dict:
    """Where a processor keeps the data and on what safeguard; a missing note shows its [todo]."""
    return {"processor": p.name, "country": p.country, "outside_eea": p.outside_eea,
            "safeguard": SAFEGUARDS[p.transfer_safeguard],
            "note": p.transfer_note or p.todo.get("transfer_note", "")}


def _flows(register: Register, systems: list[str], processors: list[str], coverage: pd.DataFrame,
           held: pd.DataFrame, stages: dict) -> list[dict]:
    """Category -> system -> processor -> location, and processor -> sub-processor."""
    flows = []
    per = coverage.drop_duplicates(["service", "export_kind", "category", "source_row"]) \
        .groupby(["category", "service"]).size()
    for (cat, service), n in per.items():
        flows.append({"stage": stages["category_system"], "source": cat,
                      "target": register.systems[service].name,
                      "records": int(n)})
    for s in systems:
        records = int(held.records.get(s, 0)) if s in held.index else None
        for p in register.systems[s].processors:
            flows.append({"stage": stages["system_processor"], "source": register.systems[s].name,
                          "target": register.processors[p].name, "records": records})
    for p in processors:
        proc = register.processors[p]
        flows.append({"stage": stages["processor_location"], "source": proc.name,
                      "target": location(register, p),
                      "records": None})
        subs = list(proc.sub_processors) or [f"none recorded ({proc.todo.get('sub_processors', 'none')})"]
        for sub in subs:
            flows.append({"stage": stages["processor_sub"], "source": proc.name, "target": sub,
                          "records": None})
    return flows


def _necessity(register: Register, keys: list[str], cfg: Config, findings: pd.DataFrame,
               texts: dict) -> pd.DataFrame:
    """D35-02 per purpose: legal basis, minimisation, accuracy and storage, with the computed
    findings on the purpose's systems counted beside them."""
    reviewed = cfg.assessment.get("necessity", {})
    rows = []
    for key in keys:
        a = register.activities[key]
        rule = register.retention_rules[a.retention]
        own = findings[findings.system.isin(a.systems)]
        text = reviewed.get(key)
        missing = f"not reviewed: add [necessity.{key}] to assessment.toml"
        rows.append({
            "activity": key, "purpose": a.purpose_en, "legal_basis": LEGAL_BASES[a.legal_basis],
            "legal_basis_detail": a.legal_basis_detail,
            "minimisation": text["minimisation"] if text else missing,
            "accuracy": text["accuracy"] if text else missing,
            "storage": (text["storage"] if text else missing) + f" Rule: {rule.period_text}.",
            "findings": "; ".join(_tally(kind, g, texts) for kind, g in own.groupby("kind"))
            or texts["words"]["none"],
        })
    return pd.DataFrame(rows, columns=["activity", "purpose", "legal_basis", "legal_basis_detail",
                                       "minimisation", "accuracy", "storage", "findings"])


def _tally(kind: str, group: pd.DataFrame, texts: dict) -> str:
    """A kind of finding counted: values or records, or for empty fields the number of fields."""
    return f"{len(group) if kind == 'sparse_field' else int(group['count'].sum())} {texts['kinds'][kind]}"


RIGHTS_COLUMNS = ["right", "label", "how", "request_types", "received", "completed", "refused", "on_time",
                  "late", "open", "overdue", "extended"]


def _rights(ws: Workspace, cfg: Config, today: date) -> pd.DataFrame:
    """D35-03 per right: how the workbench serves it, and the request register's figures."""
    every = requests.listing(ws, today=today, include_closed=True)
    rows = []
    for key, entry in cfg.assessment["rights"].items():
        mine = every[every.type.isin(entry["request_types"])]
        flag = mine.flag.fillna("")
        rows.append([key, entry["label"], entry["how"], ", ".join(entry["request_types"]) or "-", len(mine),
                     int((mine.status == "completed").sum()), int((mine.status == "refused").sum()),
                     int(flag.str.contains("on time").sum()), int(flag.str.contains("late").sum()),
                     int((~mine.status.isin(requests.CLOSED)).sum()), int(flag.str.contains("OVERDUE").sum()),
                     int(flag.str.contains("extended").sum())])
    return pd.DataFrame(rows, columns=RIGHTS_COLUMNS)


SEP = " | "  # joins a risk's lists in its table cell


def _risks(cfg: Config, texts: dict) -> pd.DataFrame:
    """D35-04/05: one row per risk with its levels before the measures, now and as the target,
    their justifications and the measures. The current level is the target only once every
    measure of the risk is done; until then it stays at the level before."""
    scale, measures = cfg.risks["scale"], cfg.measures
    rows = []
    for key, r in cfg.risks["risk"].items():
        pending = [m for m in r["measures"] if not _done(measures[m])]
        row = {"risk": key, "name": r["en"], "name_nl": r["nl"], "impacts": SEP.join(r["impacts"]),
               "threats": SEP.join(r["threats"]), "sources": SEP.join(r["sources"]),
               "controls": SEP.join(measures[m]["title"] for m in r.get("controls", [])),
               "measures": SEP.join(f"{measures[m]['title']} ({m})" for m in r["measures"]),
               "measure_ids": ", ".join(r["measures"])}
        for phase in ("before", "after"):
            for axis in ("severity", "likelihood"):
                value = r[f"{axis}_{phase}"]
                row[f"{axis}_{phase}"] = value
                row[f"{axis}_{phase}_label"] = _level_name(scale[axis], value)
                row[f"{axis}_{phase}_why"] = r[f"{axis}_{phase}_why"]
            value = level(r[f"severity_{phase}"], r[f"likelihood_{phase}"])
            row[f"level_{phase}"] = value
            row[f"level_{phase}_label"] = _level_name(scale["severity"], value)
        now = "before" if pending else "after"
        for part in ("severity", "likelihood", "level"):
            row[f"{part}_now"] = row[f"{part}_{now}"]
        row["level_now_label"] = row[f"level_{now}_label"]
        row["now_why"] = texts["now"]["not_done"].format(measures=", ".join(
            f"{measures[m]['title']} ({texts['status'][measures[m]['status']]}, {measures[m]['progress']}%)"
            for m in pending)) if pending else texts["now"]["all_done"]
        rows.append(row)
    return pd.DataFrame(rows)


def _done(measure: dict) -> bool:
    """A measure lowers the current risk only when it is in place: existing or done, at 100%."""
    return measure["status"] in DONE and measure["progress"] == 100


def _level_name(levels: dict, value: int) -> str:
    return f"{levels[str(value)]['en']} / {levels[str(value)]['nl']}"


ACTION_COLUMNS = ["measure", "title", "family", "family_key", "cnil_measure", "status", "open", "risks",
                  "owner", "due", "frequency", "cost", "difficulty", "progress", "overdue", "description"]


def _actions(cfg: Config, today: date) -> pd.DataFrame:
    """D35-05/06: every measure of the catalogue with the risks it treats and its plan; open ones
    first, soonest due first; an open measure past its due date is overdue."""
    linked: dict[str, list[str]] = {}
    for r in cfg.risks["risk"].values():
        for m in dict.fromkeys([*r.get("controls", []), *r["measures"]]):
            linked.setdefault(m, []).append(r["en"])
    rows = []
    for key, m in cfg.measures.items():
        is_open = m["status"] in OPEN
        due = m.get("due")
        overdue = bool(is_open and due is not None and due < today)
        rows.append([key, m["title"], FAMILIES[m["family"]], m["family"], m["cnil_measure"], m["status"],
                     is_open,
                     "; ".join(linked.get(key, [])) or "(general)", m["owner"], due, m.get("frequency", ""),
                     m["cost"], m["difficulty"], m["progress"], overdue, m["description"]])
    frame = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    frame["_due"] = frame.due.map(lambda d: d or date.max)
    return frame.sort_values(["open", "_due", "measure"], ascending=[False, True, True]) \
        .drop(columns="_due").reset_index(drop=True)


def _prior_consultation(risks: pd.DataFrame, texts: dict) -> dict:
    """D35-07: Art. 36 applies when a target residual level is 4, or target residual severity and
    likelihood are both 3 or more (the risk that remains once the measures are taken)."""
    high = risks[(risks.level_after >= 4) | ((risks.severity_after >= 3) & (risks.likelihood_after >= 3))]
    top = risks.sort_values(["level_after", "severity_after"], ascending=False).iloc[0]
    words = texts["prior"]
    if len(high):
        why = words["required"].format(risks="; ".join(
            words["risk"].format(name=r.name, severity=r.severity_after, likelihood=r.likelihood_after,
                                 level=r.level_after) for r in high.itertuples()))
    else:
        why = words["not_required"].format(level=top.level_after, label=top.level_after_label,
                                           name=top["name_nl"] if texts["lang"] == "nl" else top["name"])
    return {"required": bool(len(high)), "why": why, "reference": ART36,
            "risks": high.risk.tolist()}


def _meta(cfg: Config, register: Register, activity: str | None, today: date, texts: dict) -> dict:
    a = cfg.assessment
    return {
        "lang": texts["lang"], "status_label": texts["status"][a["status"]],
        "history": [dict(e) for e in a["history"]],
        "title": a.get(f"title_{texts['lang']}", a["title"])
        + (f": {_activity_name(register, activity, texts)}" if activity else ""),
        "version": a["version"], "status": a["status"], "date": a["date"], "next_review": a["next_review"],
        "controller": register.controller.name, "sign_off": {k: a["sign_off"][k] for k in SIGN_OFF},
        "sign_off_todo": a["sign_off"].get("todo", {}), "dpo": a["dpo"], "data_subjects": a["data_subjects"],
        "activity": activity, "generated_on": today, "config": cfg.label, "scale": _scale(cfg),
        "level_rule": texts["labels"]["level_rule"],
    }


def _activity_name(register: Register, key: str, texts: dict) -> str:
    a = register.activities[key]
    return a.name_nl if texts["lang"] == "nl" else a.name_en


def _scale(cfg: Config) -> list[dict]:
    """The four levels with their names and definitions for severity and likelihood."""
    severity, likelihood = cfg.risks["scale"]["severity"], cfg.risks["scale"]["likelihood"]
    return [{"level": n, "en": severity[str(n)]["en"], "nl": severity[str(n)]["nl"],
             "severity": severity[str(n)]["definition"], "likelihood": likelihood[str(n)]["definition"]}
            for n in LEVELS]


def _summary(meta: dict, screening: dict, description: dict, findings: pd.DataFrame, risks: pd.DataFrame,
             actions: pd.DataFrame, prior: dict, policy_findings: list, texts: dict) -> list[str]:
    """D35-11: the management summary, written from the computed figures in the report's language."""
    words = texts["summary"]
    top = risks.sort_values(["level_after", "severity_after"], ascending=False).iloc[0]
    open_ = actions[actions.open]
    fails = [f for f in policy_findings if f.verdict == policy_audit.FAILS]
    lines = [
        words["scope"].format(scope=description["scope"], activities=len(description["activities"]),
                              systems=len(description["systems"]), processors=len(description["recipients"])),
        words["data"].format(subjects=description["subjects"], records=description["records"],
                             categories=len(description["categories"])),
        words["screening"].format(label=screening["label"], why=screening["why"]),
    ]
    national = findings[findings.kind == "national_identifier"]
    if len(national):
        where = ", ".join(sorted({f"{r.system}/{r.export_kind}" for r in national.itertuples()}))
        tally = _tally("national_identifier", national, texts)
        lines.append(words["top_finding"].format(tally=tally, where=where))
    found = [_tally(kind, findings[findings.kind == kind], texts) for kind in FINDING_KINDS
             if kind != "national_identifier" and (findings.kind == kind).any()]
    if found:
        lines.append(words["findings"].format(list="; ".join(found)))
    lines += [
        words["risk"].format(name=top["name_nl"] if texts["lang"] == "nl" else top["name"],
                             before=f"{top.level_before} ({top.level_before_label})",
                             now=f"{top.level_now} ({top.level_now_label})",
                             after=f"{top.level_after} ({top.level_after_label})"),
        words["prior_required" if prior["required"] else "prior_not_required"].format(why=prior["why"]),
        words["actions"].format(open=len(open_), overdue=int(open_.overdue.sum())),
        words["policy"].format(fails=len(fails), high=sum(f.severity == "high" for f in fails)),
        words["status"].format(status=meta["status_label"], version=meta["version"], date=meta["date"],
                               next_review=meta["next_review"]),
    ]
    return lines


# --- writing --------------------------------------------------------------------------------------

def to_json(assessment: Assessment) -> dict:
    """The whole assessment as one JSON-ready document (D35-12), keyed as :data:`CHECKLIST` says."""
    def records(frame: pd.DataFrame) -> list[dict]:
        return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))

    a = assessment
    return {
        "checklist": {k: {"section": v[0], "key": v[1]} for k, v in CHECKLIST.items()},
        "meta": a.meta, "summary": a.summary, "screening": a.screening, "description": a.description,
        "necessity": {"purposes": records(a.necessity), "findings": records(a.findings)},
        "rights": records(a.rights), "risks": records(a.risks), "scale": a.meta["scale"],
        "measures": records(a.actions), "actions": records(a.actions[a.actions.open]),
        "prior_consultation": a.prior_consultation,
        "advice": {"dpo": a.meta["dpo"], "data_subjects": a.meta["data_subjects"]},
        "validation": {k: a.meta[k]
                       for k in ("version", "status", "date", "next_review", "sign_off", "history")},
        "companions": list(COMPANIONS),
        "policy_findings": [asdict(f) for f in a.policy_findings],
    }


def render_html(assessment: Assessment) -> str:
    """The report as one self-contained HTML page (inline CSS, no external references)."""
    from jinja2 import Environment

    source = (resources.files("workbench") / "templates" / "dpia.html.j2").read_text("utf-8")
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    a = assessment
    texts = a.texts or load_texts(a.meta.get("lang", DEFAULT_LANG))
    return env.from_string(source).render(
        a=a, t=texts, checklist=CHECKLIST, sep=SEP, companions=COMPANIONS, families=texts["families"],
        findings=a.findings.to_dict("records"), necessity=a.necessity.to_dict("records"),
        rights=a.rights.to_dict("records"), risks=a.risks.to_dict("records"),
        measures=a.actions.to_dict("records"), actions=a.actions[a.actions.open].to_dict("records"),
        policy=a.policy_findings, labels=texts["verdicts"])


def write(assessment: Assessment, out: Path, *, pdf: bool = True) -> list[Path]:
    """dpia.html, dpia.pdf (unless ``pdf`` is false), risks.csv, measures.csv and dpia.json in
    ``out``, owner-only."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WorkbenchError(f"--out {out}: is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    page = render_html(assessment)
    written = []
    with owner_only():
        for name, text in (("dpia.html", page),
                           ("dpia.json", json.dumps(to_json(assessment), ensure_ascii=False, indent=2,
                                                    default=str))):
            (out / name).write_text(text, "utf-8")
            (out / name).chmod(0o600)
            written.append(out / name)
    if pdf:
        written.append(write_pdf(page, out / "dpia.pdf"))
    written.append(write_csv(assessment.risks, out / "risks.csv"))
    written.append(write_csv(assessment.actions, out / "measures.csv"))
    return written
