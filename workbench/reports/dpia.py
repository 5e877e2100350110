"""The DPIA-style report: the CNIL PIA method and the Dutch Model DPIA
Rijksdienst, checked against the checklist D35-01..D35-12 (docs/checklists.md).

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
from dataclasses import asdict, dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import pandas as pd

from workbench.audit import policy_audit
from workbench.configuration import ConfigError
from workbench.datamap import inventory
from workbench.datamap.flows import location, rollup
from workbench.errors import WorkbenchError
from workbench.ingest.masking import mask
from workbench.reference.register import LEGAL_BASES, SAFEGUARDS, Processor, Register
from workbench.reference.taxonomy import covers
from workbench.reports.dpia_config import CNIL_RISKS as CNIL_RISKS
from workbench.reports.dpia_config import DONE as DONE
from workbench.reports.dpia_config import (
    LEVELS,
    OPEN,
    SCREENING_LISTS,
    SIGN_OFF,
    Config,
    Status,
    Words,
    load_config,
    load_texts,
)
from workbench.reports.dpia_config import RIGHTS as RIGHTS
from workbench.reports.dpia_config import default_config as default_config
from workbench.rights import requests
from workbench.store.safe_files import owner_only, write_csv, write_pdf
from workbench.store.workspace import RAW_VALUES_SQL, Workspace

DEFAULT_LANG = "nl"  # the firm's language; `language` in assessment.toml overrides it
FINANCIAL_FACT = "financial_records"  # WP248 criterion 4 names financial data as highly personal
FAMILIES = {"data": "Measures on the data", "general_security": "General security measures",
            "organisational": "Organisational measures"}
STATUSES: tuple[str, ...] = get_args(Status)
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
    texts: Words | None = None


# --- computing the assessment ---------------------------------------------------------------------

def level(severity: int, likelihood: int) -> int:
    """The risk level: the geometric mean of severity and likelihood, rounded up."""
    return math.isqrt(severity * likelihood - 1) + 1


def assess(ws: Workspace, register: Register, *, activity: str | None = None, today: date | None = None,
           policy: Path | None = None, config: Path | None = None, lang: str | None = None,
           policy_findings: list[policy_audit.Finding] | None = None) -> Assessment:
    """The whole assessment of every processing activity of the register, or of one, in ``lang``
    (default: the assessment's ``language``, else Dutch). ``policy_findings`` are the findings of
    :func:`workbench.audit.policy_audit.findings` when the caller has them (the annual report), so both
    reports show the same ones."""
    cfg = load_config(config)
    texts = load_texts(lang or cfg.assessment.language or DEFAULT_LANG, config)
    if not ws.exists:
        raise WorkbenchError(f"{ws.path}: nothing imported yet; run 'workbench import' or 'workbench demo'")
    if ws.is_empty("subjects"):
        raise WorkbenchError("no subjects yet: run 'workbench link' first (the report counts subjects)")
    unknown = sorted(set(cfg.assessment.necessity) - set(register.activities))
    if unknown:
        raise ConfigError([f"{cfg.label}assessment.toml: necessity.{k}: not an activity of the "
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
    sparse = cfg.assessment.sparse_fill_rate
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
    if covers(BIRTH_DATE, category):
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


def _screening(cfg: Config, facts: dict[str, str], financial: int, texts: Words) -> dict:
    """D35-10: the reviewed criteria with the computed facts beside them, and the verdict. An EDPB
    criterion whose fact is the financial records is met whenever the data holds financial data
    (WP248 criterion 4: "financial data that might be used for payment fraud"), whatever the
    reviewer ticked, so the verdict follows WP248."""
    data, words = cfg.screening, texts.screening
    criteria = []
    for group in SCREENING_LISTS:
        for key, e in data.group(group).items():
            fact = facts.get(e.fact or "", "")
            met, why = e.met, e.why
            if group == "edpb" and e.fact == FINANCIAL_FACT and financial and not met:
                met, why = True, f"{words['financial'].format(fact=fact)}. {why}"
            criteria.append({"id": f"{group}.{key}", "list": SCREENING_LISTS[group], "text": e.text,
                             "met": met, "why": why, "source": e.source, "fact": fact})
    met = {group: [c for c in criteria if c["met"] and c["id"].startswith(group + ".")]
           for group in SCREENING_LISTS}
    reasons = [f"{c['list']}: {c['text']}" for c in met["art35_3"] + met["ap"]]
    if len(met["edpb"]) >= data.edpb_threshold:
        reasons.append(words["edpb_met"].format(met=len(met["edpb"]), threshold=data.edpb_threshold))
    mandatory = bool(reasons)
    label = words["mandatory"] if mandatory else words["voluntary"]
    why = "; ".join(reasons) if mandatory else words["not_mandatory"].format(
        met=len(met["edpb"]), total=sum(1 for c in criteria if c["id"].startswith("edpb.")),
        threshold=data.edpb_threshold)
    return {"mandatory": mandatory, "label": label, "why": why, "criteria": criteria,
            "met": {group: len(items) for group, items in met.items()}}


def _description(ws: Workspace, register: Register, keys: list[str], systems: list[str],
                 coverage: pd.DataFrame, cfg: Config, texts: Words) -> dict:
    """D35-01: nature, scope, context, purposes, categories, subjects, recipients, systems, flows,
    locations and transfers, retention and legitimate interests."""
    acts = [register.activities[k] for k in keys]
    nl = texts.lang == "nl"
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
        "scope": texts.summary["scope_all"] if len(keys) > 1
        else texts.summary["scope_one"].format(key=keys[0]),
        "context": cfg.assessment.context,
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
        "systems": [_system(register, s, keys, held, subjects) for s in systems],
        "flows": _flows(register, systems, processors, coverage, held, texts.stages),
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


def _system(register: Register, key: str, keys: list[str], held: pd.DataFrame,
            subjects: pd.DataFrame) -> dict:
    """One supporting asset: its processors and where they are, what it holds and for which activities."""
    system = register.systems[key]
    return {"key": key, "name": system.name,
            "processors": ", ".join(register.processors[p].name for p in system.processors),
            "location": ", ".join(location(register, p) for p in system.processors),
            "exports": int(held.exports.get(key, 0)), "records": int(held.records.get(key, 0)),
            "subjects": int(subjects[subjects.service == key].subject_id.nunique()),
            "activities": ", ".join(a for a in system.activities if a in keys)}


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
               texts: Words) -> pd.DataFrame:
    """D35-02 per purpose: legal basis, minimisation, accuracy and storage, with the computed
    findings on the purpose's systems counted beside them."""
    reviewed = cfg.assessment.necessity
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
            "minimisation": text.minimisation if text else missing,
            "accuracy": text.accuracy if text else missing,
            "storage": (text.storage if text else missing) + f" Rule: {rule.period_text}.",
            "findings": "; ".join(_tally(kind, g, texts) for kind, g in own.groupby("kind"))
            or texts.words["none"],
        })
    return pd.DataFrame(rows, columns=["activity", "purpose", "legal_basis", "legal_basis_detail",
                                       "minimisation", "accuracy", "storage", "findings"])


def _tally(kind: str, group: pd.DataFrame, texts: Words) -> str:
    """A kind of finding counted: values or records, or for empty fields the number of fields."""
    return f"{len(group) if kind == 'sparse_field' else int(group['count'].sum())} {texts.kinds[kind]}"


RIGHTS_COLUMNS = ["right", "label", "how", "request_types", "received", "completed", "refused", "on_time",
                  "late", "open", "overdue", "extended"]


def _rights(ws: Workspace, cfg: Config, today: date) -> pd.DataFrame:
    """D35-03 per right: how the workbench serves it, and the request register's figures."""
    every = requests.listing(ws, today=today, include_closed=True)
    rows = []
    for key, entry in cfg.assessment.rights.items():
        mine = every[every.type.isin(entry.request_types)]
        flag = mine.flag.fillna("")
        rows.append([key, entry.label, entry.how, ", ".join(entry.request_types) or "-", len(mine),
                     int((mine.status == "completed").sum()), int((mine.status == "refused").sum()),
                     int(flag.str.contains("on time").sum()), int(flag.str.contains("late").sum()),
                     int((~mine.status.isin(requests.CLOSED)).sum()), int(flag.str.contains("OVERDUE").sum()),
                     int(flag.str.contains("extended").sum())])
    return pd.DataFrame(rows, columns=RIGHTS_COLUMNS)


SEP = " | "  # joins a risk's lists in its table cell


def _risks(cfg: Config, texts: Words) -> pd.DataFrame:
    """D35-04/05: one row per risk with its levels before the measures, now and as the target,
    their justifications and the measures. The current level is the target only once every
    measure of the risk is done; until then it stays at the level before."""
    scale, measures = cfg.risks.scale, cfg.measures
    rows = []
    for key, r in cfg.risks.risk.items():
        pending = [m for m in r.measures if not measures[m].done]
        row = {"risk": key, "name": r.en, "name_nl": r.nl, "impacts": SEP.join(r.impacts),
               "threats": SEP.join(r.threats), "sources": SEP.join(r.sources),
               "controls": SEP.join(measures[m].title for m in r.controls),
               "measures": SEP.join(f"{measures[m].title} ({m})" for m in r.measures),
               "measure_ids": ", ".join(r.measures)}
        for phase in ("before", "after"):
            for axis in ("severity", "likelihood"):
                value = getattr(r, f"{axis}_{phase}")
                row[f"{axis}_{phase}"] = value
                row[f"{axis}_{phase}_label"] = scale.name(value)
                row[f"{axis}_{phase}_why"] = getattr(r, f"{axis}_{phase}_why")
            value = level(getattr(r, f"severity_{phase}"), getattr(r, f"likelihood_{phase}"))
            row[f"level_{phase}"] = value
            row[f"level_{phase}_label"] = scale.name(value)
        now = "before" if pending else "after"
        for part in ("severity", "likelihood", "level"):
            row[f"{part}_now"] = row[f"{part}_{now}"]
        row["level_now_label"] = row[f"level_{now}_label"]
        row["now_why"] = texts.now["not_done"].format(measures=", ".join(
            f"{measures[m].title} ({texts.status[measures[m].status]}, {measures[m].progress}%)"
            for m in pending)) if pending else texts.now["all_done"]
        rows.append(row)
    return pd.DataFrame(rows)


ACTION_COLUMNS = ["measure", "title", "family", "family_key", "cnil_measure", "status", "open", "risks",
                  "owner", "due", "frequency", "cost", "difficulty", "progress", "overdue", "description"]


def _actions(cfg: Config, today: date) -> pd.DataFrame:
    """D35-05/06: every measure of the catalogue with the risks it treats and its plan; open ones
    first, soonest due first; an open measure past its due date is overdue."""
    linked: dict[str, list[str]] = {}
    for r in cfg.risks.risk.values():
        for m in dict.fromkeys([*r.controls, *r.measures]):
            linked.setdefault(m, []).append(r.en)
    rows = []
    for key, m in cfg.measures.items():
        is_open = m.status in OPEN
        due = m.due
        overdue = bool(is_open and due is not None and due < today)
        rows.append([key, m.title, FAMILIES[m.family], m.family, m.cnil_measure, m.status, is_open,
                     "; ".join(linked.get(key, [])) or "(general)", m.owner, due, m.frequency or "",
                     m.cost, m.difficulty, m.progress, overdue, m.description])
    frame = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    frame["_due"] = frame.due.map(lambda d: d or date.max)
    return frame.sort_values(["open", "_due", "measure"], ascending=[False, True, True]) \
        .drop(columns="_due").reset_index(drop=True)


def _prior_consultation(risks: pd.DataFrame, texts: Words) -> dict:
    """D35-07: Art. 36 applies when a target residual level is 4, or target residual severity and
    likelihood are both 3 or more (the risk that remains once the measures are taken)."""
    high = risks[(risks.level_after >= 4) | ((risks.severity_after >= 3) & (risks.likelihood_after >= 3))]
    top = risks.sort_values(["level_after", "severity_after"], ascending=False).iloc[0]
    words = texts.prior
    if len(high):
        why = words["required"].format(risks="; ".join(
            words["risk"].format(name=r.name, severity=r.severity_after, likelihood=r.likelihood_after,
                                 level=r.level_after) for r in high.itertuples()))
    else:
        why = words["not_required"].format(level=top.level_after, label=top.level_after_label,
                                           name=top["name_nl"] if texts.lang == "nl" else top["name"])
    return {"required": bool(len(high)), "why": why, "reference": ART36,
            "risks": high.risk.tolist()}


def _meta(cfg: Config, register: Register, activity: str | None, today: date, texts: Words) -> dict:
    a = cfg.assessment
    return {
        "lang": texts.lang, "status_label": texts.status[a.status],
        "history": [e.model_dump() for e in a.history],
        "title": a.title_in(texts.lang)
        + (f": {_activity_name(register, activity, texts)}" if activity else ""),
        "version": a.version, "status": a.status, "date": a.date, "next_review": a.next_review,
        "controller": register.controller.name, "sign_off": a.sign_off.model_dump(include=set(SIGN_OFF)),
        "sign_off_todo": a.sign_off.todo, "dpo": a.dpo.model_dump(),
        "data_subjects": a.data_subjects.model_dump(),
        "activity": activity, "generated_on": today, "config": cfg.label, "scale": _scale(cfg),
        "level_rule": texts.labels["level_rule"],
    }


def _activity_name(register: Register, key: str, texts: Words) -> str:
    a = register.activities[key]
    return a.name_nl if texts.lang == "nl" else a.name_en


def _scale(cfg: Config) -> list[dict]:
    """The four levels with their names and definitions for severity and likelihood."""
    severity, likelihood = cfg.risks.scale.severity, cfg.risks.scale.likelihood
    return [{"level": n, "en": severity[str(n)].en, "nl": severity[str(n)].nl,
             "severity": severity[str(n)].definition, "likelihood": likelihood[str(n)].definition}
            for n in LEVELS]


def _summary(meta: dict, screening: dict, description: dict, findings: pd.DataFrame, risks: pd.DataFrame,
             actions: pd.DataFrame, prior: dict, policy_findings: list, texts: Words) -> list[str]:
    """D35-11: the management summary, written from the computed figures in the report's language."""
    words = texts.summary
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
        words["risk"].format(name=top["name_nl"] if texts.lang == "nl" else top["name"],
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
        a=a, t=texts, checklist=CHECKLIST, sep=SEP, companions=COMPANIONS, families=texts.families,
        findings=a.findings.to_dict("records"), necessity=a.necessity.to_dict("records"),
        rights=a.rights.to_dict("records"), risks=a.risks.to_dict("records"),
        measures=a.actions.to_dict("records"), actions=a.actions[a.actions.open].to_dict("records"),
        policy=a.policy_findings, labels=texts.verdicts)


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
