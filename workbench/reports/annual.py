"""The annual compliance report's figures: every table and chart of
``notebooks/annual_compliance_report.ipynb`` is computed here, the notebook only narrates.

One function per section, each returning small DataFrames (or a dict of them) free of personal
data: counts, request ids, system names, dates, masked examples at most.

* :func:`requests_section`: requests received in the year per type, response times against the
  binding deadline (the extended one where there is one), overdue and extended requests, and the
  erasures completed with their anonymisation (register) and their plan and purge (audit log);
* :func:`inventory_section`: systems, exports, personal-data fields, what changed (exports and
  columns first imported in the year; the difference with an earlier report's ``inventory.csv``)
  and the categories declared nowhere for their system;
* :func:`processors_section`: processors, their agreements and the transfers outside the EEA;
* :func:`retention_section`: records older than every retention rule of their system and what to do;
* :func:`quality_section`: invalid IBANs, e-mail addresses and phone numbers per system, subjects
  known in more than one system and the link candidates still waiting for the analyst;
* :func:`dpia_section`: the DPIA's status, risk levels and open actions (:mod:`workbench.reports.dpia`);
* :func:`policy_section`: the privacy-policy audit, failures first, by severity;
* :func:`summary` and the charts (matplotlib, static SVG so they survive the PDF).
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from workbench.audit import policy_audit, trail
from workbench.datamap import flows, inventory, mail
from workbench.errors import WorkbenchError
from workbench.ingest.sources import gmail
from workbench.reference.register import AGREEMENTS_ON_FILE, Register
from workbench.reports import dpia
from workbench.rights import requests
from workbench.store.safe_files import write_csv
from workbench.store.workspace import Workspace

KEY_KINDS = ("iban", "email", "phone")  # the identifiers the data-quality section reports on
INVENTORY_CSV = "inventory.csv"  # the table a later year's report diffs against (--previous)
INVENTORY_COLUMNS = ["service", "export_kind", "column", "field", "category", "personal",
                     "special_or_national_id", "fill_rate", "declared", "classified_by"]
SEVERITY_ORDER = policy_audit.SEVERITY_ORDER
VERDICT_ORDER = policy_audit.VERDICT_ORDER
DPIA_META = ("title", "version", "status", "date", "next_review")
DPIA_RISK_COLUMNS = ["name", "level_before", "level_before_label", "level_now", "level_now_label",
                     "level_after", "level_after_label"]
DPIA_ACTION_COLUMNS = ["measure", "title", "status", "owner", "due", "progress", "overdue"]
REQUEST_COLUMNS = ["request_id", "type", "status", "received", "due", "extended_due", "extension_months",
                   "extension_told", "responded", "outcome", "anonymised_on", "keeps_email"]


@dataclass
class Figures:
    """Every figure of the report, one attribute per section."""

    year: int
    today: date
    requests: dict[str, pd.DataFrame]
    inventory: dict[str, pd.DataFrame]
    processors: dict[str, pd.DataFrame]
    retention: dict[str, pd.DataFrame]
    quality: dict[str, pd.DataFrame]
    dpia: dict
    policy: dict[str, pd.DataFrame]
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    charts: dict[str, str] = field(default_factory=dict)  # name -> SVG


def figures(ws: Workspace, register: Register, year: int, *, today: date | None = None,
            policy: Path | None = None, previous: Path | None = None) -> Figures:
    """Every section of the annual report of ``year`` over the workspace; ``today`` is the day the
    report speaks of (open and overdue requests, retention), ``policy`` the privacy policy's text
    file, ``previous`` an earlier year's report folder holding its ``inventory.csv``."""
    today = today or date.today()
    if year > today.year:
        raise WorkbenchError(f"--year {year} has not begun (today is {today})")
    if not ws.exists or ws.status().empty:
        raise WorkbenchError(f"workspace {ws.path} holds no imported exports; import them first "
                             "('workbench import' or 'workbench demo')")
    fields = inventory.build(ws, register)
    # one set of policy findings for the DPIA section and the policy section, so they agree
    found = policy_audit.findings(ws, register, policy=policy, today=today)
    fig = Figures(year=year, today=today,
                  requests=requests_section(ws, year, today),
                  inventory=inventory_section(ws, register, year, fields=fields, previous=previous),
                  processors=processors_section(register),
                  retention=retention_section(ws, register, today),
                  quality=quality_section(ws),
                  dpia=dpia_section(ws, register, today=today, policy=policy, found=found),
                  policy=policy_section(ws, register, today=today, policy=policy, found=found))
    fig.summary = summary(fig)
    fig.charts = {"requests_per_month": requests_chart(fig.requests["per_month"], year),
                  "records_per_system": records_chart(fig.inventory["records"])}
    return fig


# --- requests ---------------------------------------------------------------------------------------

def register_rows(ws: Workspace) -> pd.DataFrame:
    """The request register without the requesters: ids, types, dates, status, outcome and whether
    an e-mail address is still kept (never the address itself)."""
    if ws.is_empty("requests"):
        return pd.DataFrame(columns=REQUEST_COLUMNS)
    frame = ws.query("""SELECT request_id, type, status, received, due, extended_due, extension_months,
                               extension_told, responded, outcome, anonymised_on,
                               email IS NOT NULL OR name IS NOT NULL AS keeps_email
                        FROM requests ORDER BY received, request_id""")
    for column in ("received", "due", "extended_due", "extension_told", "responded", "anonymised_on"):
        frame[column] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in frame[column]]
    return frame


def requests_section(ws: Workspace, year: int, today: date) -> dict[str, pd.DataFrame]:
    """Requests received in ``year``: per type, each request's response time against its deadline,
    overdue ones, extended ones, completed erasures, and the count per month."""
    every = register_rows(ws)
    rows = every[[r.year == year for r in every.received]].copy() if len(every) else every.copy()
    rows["binding_due"] = [e or d for e, d in zip(rows.extended_due, rows.due, strict=True)]
    closed = rows.status.isin(requests.CLOSED)
    rows["days"] = pd.array([(r - g).days if c else None for r, g, c in
                             zip(rows.responded, rows.received, closed, strict=True)], dtype="Int64")
    rows["days_after_due"] = pd.array([(r - d).days if c else None for r, d, c in
                                       zip(rows.responded, rows.binding_due, closed, strict=True)],
                                      dtype="Int64")
    rows["state"] = [_state(c, a, (today - d).days) for c, a, d in
                     zip(closed, rows.days_after_due, rows.binding_due, strict=True)]
    response = rows[["request_id", "type", "status", "received", "binding_due", "responded", "days",
                     "days_after_due", "state", "extension_months"]].rename(columns={"binding_due": "due"})
    overdue = rows[rows.state.eq("overdue")].assign(
        days_overdue=lambda f: [(today - d).days for d in f.binding_due])[
        ["request_id", "type", "status", "received", "binding_due", "days_overdue"]].rename(
        columns={"binding_due": "due"})
    extended = rows[rows.extension_months.gt(0)][
        ["request_id", "type", "status", "received", "due", "extension_months", "extension_told",
         "extended_due", "state"]].rename(columns={"due": "first_due"})
    return {"per_type": _per_type(rows), "response": response.reset_index(drop=True),
            "overdue": overdue.reset_index(drop=True), "extended": extended.reset_index(drop=True),
            "erasures": _erasures(ws, rows), "per_month": _per_month(rows)}


def _state(closed: bool, days_after_due: int | None, days_past_due: int) -> str:
    if closed:
        return "late" if days_after_due > 0 else "on time"
    return "overdue" if days_past_due > 0 else "open"


def _per_type(rows: pd.DataFrame) -> pd.DataFrame:
    columns = ["type", "received", "answered", "on_time", "late", "refused", "open", "overdue", "extended",
               "median_days", "max_days"]
    out = []
    for kind, group in [*rows.groupby("type", sort=True), ("total", rows)]:
        days = pd.to_numeric(group.days, errors="coerce").dropna()
        out.append([kind, len(group), int(group.status.isin(requests.CLOSED).sum()),
                    int(group.state.eq("on time").sum()), int(group.state.eq("late").sum()),
                    int(group.status.eq("refused").sum()), int(group.state.isin(["open", "overdue"]).sum()),
                    int(group.state.eq("overdue").sum()), int(group.extension_months.gt(0).sum()),
                    float(days.median()) if len(days) else None, int(days.max()) if len(days) else None])
    return pd.DataFrame(out, columns=columns)


def _erasures(ws: Workspace, rows: pd.DataFrame) -> pd.DataFrame:
    """Completed erasure requests: anonymised in the register, and the plan and purge the audit
    log holds for them (counts only)."""
    done = rows[rows.type.eq("erasure") & rows.status.eq("completed")]
    logged: dict[str, dict[str, dict]] = {}
    for entry in trail.entries(ws):
        if entry.request_id in set(done.request_id) and entry.action in ("plan", "purge"):
            logged.setdefault(entry.request_id, {})[entry.action] = entry.details
    out = []
    for r in done.itertuples():
        purge = logged.get(r.request_id, {}).get("purge", {})
        removed = purge.get("removed", {})
        out.append({"request_id": r.request_id, "received": r.received, "responded": r.responded,
                    "anonymised": bool(not r.keeps_email and r.anonymised_on is not None),
                    "anonymised_on": r.anonymised_on, "plan_logged": "plan" in logged.get(r.request_id, {}),
                    "purge_logged": bool(purge),
                    "records_removed": removed.get("party_versions", 0) + removed.get("document_versions", 0),
                    "records_held": purge.get("held", 0), "held_until": purge.get("held_until")})
    return pd.DataFrame(out, columns=["request_id", "received", "responded", "anonymised", "anonymised_on",
                                      "plan_logged", "purge_logged", "records_removed", "records_held",
                                      "held_until"])


def _per_month(rows: pd.DataFrame) -> pd.DataFrame:
    """Requests received per month (rows 1-12) and type (columns)."""
    months = pd.Series([r.month for r in rows.received], index=rows.index, dtype="int64")
    table = pd.crosstab(months, rows.type) if len(rows) else pd.DataFrame()
    table = table.reindex(range(1, 13), fill_value=0).reindex(columns=list(requests.TYPES), fill_value=0)
    table.index.name = "month"
    return table.astype(int)


# --- inventory --------------------------------------------------------------------------------------

def inventory_section(ws: Workspace, register: Register, year: int, *, fields: pd.DataFrame | None = None,
                      previous: Path | None = None) -> dict[str, pd.DataFrame]:
    """Systems, exports, personal fields, what changed since last year, undeclared categories and
    records per system and category."""
    fields = inventory.build(ws, register) if fields is None else fields
    imports = ws.status()
    imports["first_year"] = pd.to_datetime(imports.imported_at).dt.year
    exports = (imports.groupby(["service", "export_kind"], as_index=False)
               .agg(imports=("import_id", "count"), first_imported=("imported_at", "min"),
                    last_imported=("imported_at", "max"), newest_import=("import_id", "max")))
    exports["rows"] = exports.newest_import.map(imports.set_index("import_id").rows).astype(int)
    exports["since"] = [_since(t.year, year) for t in pd.to_datetime(exports.first_imported)]
    for column in ("first_imported", "last_imported"):
        exports[column] = pd.to_datetime(exports[column]).dt.date
    exports = exports.drop(columns="newest_import")
    personal = fields[fields.personal.eq(True)]
    systems = pd.DataFrame([{
        "service": service, "system": _system_name(register, service),
        "exports": len(group), "imports": int(group.imports.sum()), "records": int(group.rows.sum()),
        "personal_fields": int((personal.service == service).sum()),
        "first_imported": group.first_imported.min()} for service, group in exports.groupby("service")])
    return {"systems": systems, "exports": exports, "fields": fields[INVENTORY_COLUMNS],
            "new_columns": _new_columns(ws, year), "previous_diff": diff_inventory(fields, previous),
            "undeclared": inventory.undeclared(fields), "records": records_per_category(ws, register, fields)}


def _system_name(register: Register, service: str) -> str:
    return register.systems[service].name if service in register.systems else service


def _since(first: int, year: int) -> str:
    return f"new in {year}" if first == year else f"before {year}" if first < year else f"after {year}"


def _new_columns(ws: Workspace, year: int) -> pd.DataFrame:
    """Columns first imported in ``year`` of exports that were imported before it."""
    seen = ws.query("""
        WITH cols AS (SELECT i.service, i.export_kind, c.name AS col, i.imported_at
                      FROM columns c JOIN imports i USING (import_id)),
             export AS (SELECT service, export_kind, min(imported_at) AS export_first
                        FROM imports GROUP BY ALL)
        SELECT service, export_kind, col AS "column", min(imported_at) AS first_seen,
               any_value(export_first) AS export_first
        FROM cols JOIN export USING (service, export_kind) GROUP BY ALL ORDER BY ALL""")
    first, export_first = pd.to_datetime(seen.first_seen).dt.year, pd.to_datetime(seen.export_first).dt.year
    added = seen[(first == year) & (export_first < year)].assign(first_seen=lambda f: f.first_seen.dt.date)
    return added[["service", "export_kind", "column", "first_seen"]].reset_index(drop=True)


def diff_inventory(fields: pd.DataFrame, previous: Path | None) -> pd.DataFrame:
    """The field inventory against an earlier report's ``inventory.csv``: columns added, removed,
    or whose category or personal flag changed. Empty without ``previous``."""
    columns = ["service", "export_kind", "column", "change", "before", "now"]
    if previous is None:
        return pd.DataFrame(columns=columns)
    path = Path(previous) / INVENTORY_CSV if Path(previous).is_dir() else Path(previous)
    if not path.is_file():
        raise WorkbenchError(f"--previous {previous}: no {INVENTORY_CSV} there (an earlier annual report "
                             "folder holds one)")
    before = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"service", "export_kind", "column", "category", "personal"} - set(before.columns)
    if missing:
        raise WorkbenchError(f"{path}: expected the columns of an annual report's inventory; "
                             f"{', '.join(sorted(missing))} missing")
    now = fields[INVENTORY_COLUMNS].astype(object).map(lambda v: "" if pd.isna(v) else str(v))
    key = ["service", "export_kind", "column"]
    both = before.merge(now, on=key, how="outer", suffixes=("_before", "_now"), indicator="found")
    rows = []
    for r in both.itertuples(index=False):
        where = [r.service, r.export_kind, r.column]
        if r.found == "right_only":
            rows.append([*where, "added", "", r.category_now])
        elif r.found == "left_only":
            rows.append([*where, "removed", r.category_before, ""])
        elif (r.category_before, r.personal_before) != (r.category_now, r.personal_now):
            rows.append([*where, "category changed", f"{r.category_before} (personal {r.personal_before})",
                         f"{r.category_now} (personal {r.personal_now})"])
    return pd.DataFrame(rows, columns=columns)


def records_per_category(ws: Workspace, register: Register, fields: pd.DataFrame) -> pd.DataFrame:
    """Records per system and rolled-up data category (newest import of each export), with the
    category's label."""
    held = flows.holdings(ws, fields)
    held = held[held.category.ne("*")]
    out = held.groupby(["service", "category"], as_index=False).records.sum()
    out.insert(2, "label", out.category.map(lambda c: flows.category_label(register, c)))
    return out[out.records.gt(0)].reset_index(drop=True)


# --- processors, retention, quality -----------------------------------------------------------------

def processors_section(register: Register) -> dict[str, pd.DataFrame]:
    """Every processor with its agreement, and the transfers outside the EEA with their safeguard."""
    rows = [{"processor": p.name, "role": p.role, "systems": ", ".join(p.systems), "country": p.country,
             "outside_eea": p.outside_eea, "agreement": p.agreement_status,
             "agreement_date": p.agreement_date,
             "agreement_on_file": p.agreement_status in AGREEMENTS_ON_FILE,
             "sub_processors": ", ".join(p.sub_processors)} for p in register.processors.values()]
    processors = pd.DataFrame(rows)
    transfers = pd.DataFrame([{"processor": p.name, "country": p.country,
                               "safeguard": p.transfer_safeguard or "none", "note": p.transfer_note}
                              for p in register.processors.values() if p.outside_eea],
                             columns=["processor", "country", "safeguard", "note"])
    return {"processors": processors, "transfers": transfers}


def retention_section(ws: Workspace, register: Register, today: date) -> dict[str, pd.DataFrame]:
    """Records older than every retention rule of their system (per export and year) and, per
    system, how many and what to do."""
    past = policy_audit.past_retention(ws, register, today)
    mailed = mail.past_retention_rows(ws, register, today)  # conversations: from their last message
    past = pd.concat([past, mailed], ignore_index=True) if not mailed.empty else past
    rows = []
    for service, group in past.groupby("service"):
        name = _system_name(register, service)
        bounded = group[group.kept_until.notna()]
        action = (f"{name}: search {gmail.older_than(group.longest_rule_years.iloc[0])} and delete "
                  "the conversations whose last message is that old" if service == mail.SERVICE
                  else _retention_action(name, bounded))
        rows.append({"service": service, "system": name, "records": int(group.records.sum()),
                     "oldest_year": int(group.year.min()), "newest_year": int(group.year.max()),
                     "action": action})
    per_system = pd.DataFrame(rows, columns=["service", "system", "records", "oldest_year", "newest_year",
                                             "action"])
    return {"per_system": per_system, "detail": past}


def _retention_action(system: str, bounded: pd.DataFrame) -> str:
    if bounded.empty:
        return (f"{system}: no retention rule with a period covers these records; decide one and record it "
                "in the register's retention.toml")
    years = bounded.longest_rule_years.max()
    return (f"{system}: delete the records of {', '.join(str(y) for y in sorted(set(bounded.year)))} "
            f"(every rule, at most {years:g} years after the financial year, has ended), or anonymise "
            "them where the service cannot delete; then import a new export")


def quality_section(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Invalid identifiers per system (IBAN, e-mail, phone and any other kind with failures),
    subjects known in more than one system, and the link candidates waiting for the analyst."""
    checked = ws.query("""SELECT service, kind, count(*) FILTER (WHERE NOT valid) AS invalid,
                                 count(*) AS checked FROM identifiers GROUP BY ALL ORDER BY ALL""")
    key = checked[checked.kind.isin(KEY_KINDS)]
    invalid = key.pivot_table(index="service", columns="kind", values=["invalid", "checked"], fill_value=0,
                              aggfunc="sum")
    invalid.columns = [f"{kind}_{what}" for what, kind in invalid.columns]
    wanted = [f"{k}_{w}" for k in KEY_KINDS for w in ("invalid", "checked")]
    invalid = invalid.reindex(columns=wanted, fill_value=0).astype(int).reset_index()
    other = checked[~checked.kind.isin(KEY_KINDS) & checked.invalid.gt(0)].reset_index(drop=True)
    if not ws.is_empty("subjects"):
        spread = ws.query("""SELECT systems, count(*) AS subjects FROM (
                                 SELECT subject_id, count(DISTINCT service) AS systems
                                 FROM subjects GROUP BY ALL)
                             GROUP BY ALL ORDER BY systems""")
        pending = ws.query("""SELECT reason, count(*) AS candidates FROM link_candidates
                              GROUP BY ALL ORDER BY candidates DESC, reason""")
    else:
        spread = pd.DataFrame(columns=["systems", "subjects"])
        pending = pd.DataFrame(columns=["reason", "candidates"])
    return {"invalid": invalid, "other_invalid": other, "subjects_by_systems": spread,
            "pending_links": pending}


# --- DPIA and the policy audit ----------------------------------------------------------------------

def dpia_section(ws: Workspace, register: Register, *, today: date, policy: Path | None = None,
                 found: list[policy_audit.Finding] | None = None) -> dict:
    """The DPIA (:func:`workbench.reports.dpia.assess` over every activity): its status (version, status,
    date, next review), each risk's level before, now and after the measures, the actions of its
    plan still open (overdue ones flagged), whether prior consultation (Art. 36) is required, and
    its count of policy findings per verdict (from ``found``, the same findings as the policy
    section)."""
    assessment = dpia.assess(ws, register, today=today, policy=policy, policy_findings=found,
                             lang="en")  # the annual report narrates in English
    actions = assessment.actions
    return {"meta": {k: assessment.meta[k] for k in DPIA_META},
            "risks": assessment.risks[DPIA_RISK_COLUMNS].reset_index(drop=True),
            "open_actions": actions[actions.open.astype(bool)][DPIA_ACTION_COLUMNS].reset_index(drop=True),
            "actions": actions[DPIA_ACTION_COLUMNS],
            "prior_consultation": {k: assessment.prior_consultation[k] for k in ("required", "why")},
            "policy_counts": policy_audit.counts(assessment.policy_findings)}


def policy_section(ws: Workspace, register: Register, *, today: date, policy: Path | None = None,
                   found: list[policy_audit.Finding] | None = None) -> dict[str, pd.DataFrame]:
    """The privacy-policy audit (:func:`workbench.audit.policy_audit.findings`, or ``found`` already
    computed): failures first, by severity, then the rest."""
    if found is None:
        found = policy_audit.findings(ws, register, policy=policy, today=today)
    table = policy_audit.frame(found)
    return {"findings": table[["claim_id", "verdict", "severity", "asserts", "evidence", "source",
                               "suggestion", "reason"]], "counts": policy_audit.counts(found)}


# --- summary and charts -----------------------------------------------------------------------------

def summary(fig: Figures) -> pd.DataFrame:
    """The management summary: one line per key figure, with the section it comes from."""
    total = fig.requests["per_type"].set_index("type").loc["total"]
    erasures = fig.requests["erasures"]
    procs = fig.processors["processors"]
    quality = fig.quality
    invalid = sum(int(quality["invalid"][f"{k}_invalid"].sum()) for k in KEY_KINDS)
    spread = quality["subjects_by_systems"]
    findings = fig.policy["findings"]
    fails = findings[findings.verdict.eq(policy_audit.FAILS)]
    meta, open_actions = fig.dpia["meta"], fig.dpia["open_actions"]
    lines = [
        ("Requests", "received", int(total.received)),
        ("Requests", "answered on time", f"{int(total.on_time)} of {int(total.answered)}"),
        ("Requests", "answered late", int(total.late)),
        ("Requests", "open and overdue", int(total.overdue)),
        ("Requests", "extended", int(total.extended)),
        ("Requests", "median / longest days to answer",
         "-" if pd.isna(total.median_days) else f"{total.median_days:g} / {int(total.max_days)}"),
        ("Requests", "erasures completed (anonymised)",
         f"{len(erasures)} ({int(erasures.anonymised.sum()) if len(erasures) else 0})"),
        ("Inventory", "systems with imported exports", len(fig.inventory["systems"])),
        ("Inventory", "personal-data fields", int(fig.inventory["fields"].personal.eq(True).sum())),
        ("Inventory", "categories found but declared nowhere", len(fig.inventory["undeclared"])),
        ("Processors", "processors", len(procs)),
        ("Processors", "without an agreement on file", int((~procs.agreement_on_file).sum())),
        ("Processors", "transferring outside the EEA", len(fig.processors["transfers"])),
        ("Retention", "records past every retention rule", int(fig.retention["per_system"].records.sum())),
        ("Data quality", "invalid IBANs, e-mail addresses and phone numbers", invalid),
        ("Data quality", "subjects known in more than one system",
         int(spread[spread.systems.astype(int) > 1].subjects.sum()) if len(spread) else 0),
        ("Data quality", "link candidates waiting for the analyst",
         int(quality["pending_links"].candidates.sum()) if len(quality["pending_links"]) else 0),
        ("DPIA", "status",
         f"{meta['status']} (version {meta['version']}, next review {meta['next_review']})"),
        ("DPIA", "open actions (overdue)", f"{len(open_actions)} ({int(open_actions.overdue.sum())})"),
        ("DPIA", "prior consultation (Art. 36)",
         "required" if fig.dpia["prior_consultation"]["required"] else "not required"),
        ("Privacy policy", "statements that fail (high severity)",
         f"{len(fails)} ({int(fails.severity.eq('high').sum())})"),
    ]
    return pd.DataFrame(lines, columns=["section", "figure", "value"]).astype({"value": str})


def _svg(figure) -> str:
    """A matplotlib figure as SVG text, without the creation date (the same data gives the same file)."""
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    return out.getvalue()


def requests_chart(per_month: pd.DataFrame, year: int) -> str:
    """Requests received per month, stacked by type, as SVG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2))
    ax = figure.subplots()
    bottom = pd.Series(0, index=per_month.index)
    for kind in per_month.columns:
        if per_month[kind].sum():
            ax.bar(per_month.index, per_month[kind], bottom=bottom, label=kind)
            bottom = bottom + per_month[kind]
    ax.set_xticks(range(1, 13), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                 "Nov", "Dec"])
    ax.set_ylabel("requests received")
    ax.set_title(f"Requests received per month, {year}")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if bottom.sum():
        ax.legend(fontsize="small", ncols=3)
    return _svg(figure)


def records_chart(records: pd.DataFrame) -> str:
    """Records per data category, stacked by system (horizontal bars), as SVG."""
    from matplotlib.figure import Figure

    table = records.pivot_table(index="label", columns="service", values="records", aggfunc="sum",
                                fill_value=0).sort_index(ascending=False)
    figure = Figure(figsize=(8, 0.3 * len(table) + 1.4))
    ax = figure.subplots()
    if table.empty:
        ax.text(0.5, 0.5, "no records", ha="center", va="center")
    else:
        left = pd.Series(0, index=table.index)
        for service in table.columns:
            ax.barh(table.index, table[service], left=left, label=service)
            left = left + table[service]
        ax.legend(title="system", fontsize="small")
    ax.set_xlabel("records holding the category (newest import of each export)")
    ax.set_title("Records per system and data category")
    return _svg(figure)


STYLE = """<style>
.jp-RenderedHTMLCommon table.report-table { font-size: 0.75em; margin: 0.4em 0 1em; table-layout: auto; }
.jp-RenderedHTMLCommon table.report-table th, .jp-RenderedHTMLCommon table.report-table td {
  text-align: left !important; padding: 2px 5px; vertical-align: top; overflow-wrap: break-word; }
.jp-RenderedHTMLCommon table.report-table th { border-bottom: 1px solid #999; }
.jp-RenderedHTMLCommon table.report-table tr { page-break-inside: avoid; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
</style>"""  # compact, left-aligned tables whose rows do not split across PDF pages; charts fit the page


def html_table(frame: pd.DataFrame, empty: str = "None.") -> str:
    """A table for the report (no index; ``empty`` when there are no rows)."""
    if frame.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    shown = frame.reset_index() if frame.index.name else frame
    shown = shown.astype(object).map(lambda v: "" if v is None or v is pd.NA or v != v else v)
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]  # headers wrap at spaces
    return shown.to_html(index=False, border=0, classes="report-table")


# --- writing ----------------------------------------------------------------------------------------

def write_tables(fig: Figures, out: Path) -> list[Path]:
    """The report's tables as CSV in ``out`` (owner-only, formula-safe): ``inventory.csv`` for the
    next year's diff, and ``<section>-<table>.csv`` for the rest."""
    out = Path(out)
    written = [write_csv(fig.summary, out / "summary.csv"),
               write_csv(fig.inventory["fields"], out / INVENTORY_CSV)]
    sections = {"requests": fig.requests, "inventory": fig.inventory, "processors": fig.processors,
                "retention": fig.retention, "quality": fig.quality, "policy": fig.policy,
                "dpia": {k: v for k, v in fig.dpia.items() if isinstance(v, pd.DataFrame)}}
    for section, tables in sections.items():
        for name, frame in tables.items():
            if section == "inventory" and name == "fields":
                continue
            frame = frame.reset_index() if name == "per_month" else frame
            written.append(write_csv(frame, out / f"{section}-{name.replace('_', '-')}.csv"))
    return written
