"""The data map: the record of processing activities (Art. 30(1)), the processors, the field
inventory and the categories found in the data but declared nowhere (R30-11), as one XLSX with a
sheet each plus a CSV per sheet, and the record as a dated HTML and PDF of the year (R30-10) with
its reviewer and review date; the map of one subject across every system; and the data of a subject
that no activity declares (for the officer, when a package is prepared)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd

from workbench.datamap import inventory, linkage
from workbench.reference import register as registry
from workbench.reference.register import Register
from workbench.store.safe_files import owner_only, write_csv, write_pdf, write_xlsx
from workbench.store.workspace import JSON_PATH_SQL, RAW_RECORDS_OF, Workspace

SUBJECT_COLUMNS = ["service", "export_kind", "file_name", "file_sha256", "source_row", "record",
                   "column", "value", "field", "category", "processor", "purpose", "legal_basis",
                   "retention"]


def sheets(ws: Workspace, register: Register) -> dict[str, pd.DataFrame]:
    """Every table of the data map, by sheet name."""
    fields = inventory.build(ws, register)
    personal = fields[fields.personal.eq(True) & fields.category.notna()]
    found = set(zip(personal.service, personal.category, strict=True))
    checks = pd.DataFrame([asdict(c) for c in registry.check_ropa(register, found)])
    return {
        "Register (Art. 30)": registry.ropa(register),
        "Processors": processors(register),
        "Field inventory": fields,
        "Undeclared categories": inventory.undeclared(fields),
        "Checks": checks,
    }


def processors(register: Register) -> pd.DataFrame:
    """One row per processor: role, location, transfer safeguard, agreement."""
    return pd.DataFrame([{"key": key, **{k: _cell(v) for k, v in _notes_last(p.model_dump()).items()}}
                         for key, p in register.processors.items()])


def _notes_last(record: dict) -> dict:
    """A record's own texts first, its [na] and [todo] notes after them."""
    notes = ("na", "todo")
    return {k: v for k, v in record.items() if k not in notes} | {k: record[k] for k in notes if k in record}


def _cell(value: object) -> object:
    return ", ".join(value) if isinstance(value, list | tuple) else value


def write(ws: Workspace, register: Register, out: Path, *, year: int | None = None,
          today: date | None = None, pdf: bool = True) -> list[Path]:
    """The data map as ``out`` (.xlsx) plus one CSV per sheet in a folder beside it, then the
    record of processing of ``year`` (default: this year) as ``ropa-<year>.html`` and (unless
    ``pdf`` is false) ``ropa-<year>.pdf`` beside the XLSX, dated ``today``."""
    tables = sheets(ws, register)
    out = Path(out)
    written = [write_xlsx(tables, out.with_suffix(".xlsx"))]
    folder = out.with_suffix("")
    for name, frame in tables.items():
        slug = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
        written.append(write_csv(frame, folder / f"{slug}.csv"))
    today = today or date.today()
    year = year or today.year
    page = ropa_html(register, tables["Register (Art. 30)"], tables["Checks"], year=year, today=today)
    html_path = out.parent / f"ropa-{year}.html"
    with owner_only():
        html_path.write_text(page, "utf-8")
    html_path.chmod(0o600)
    written.append(html_path)
    if pdf:
        written.append(write_pdf(page, out.parent / f"ropa-{year}.pdf"))
    return written


def ropa_html(register: Register, rows: pd.DataFrame, checks: pd.DataFrame, *, year: int, today: date) -> str:
    """The record of processing of ``year`` as one self-contained page: the review status (an
    empty reviewer or review date shows as a gap), a card per activity, the Art. 30 checks."""
    from jinja2 import Environment

    c = register.controller
    source = (resources.files("workbench") / "templates" / "ropa.html.j2").read_text("utf-8")
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source).render(
        title=f"Record of processing activities (Art. 30 GDPR) {year}: {c.name}", controller=c.name,
        year=year, today=today, reviewer=c.reviewed_by, reviewed=c.reviewed_on,
        todo_reviewer=c.todo.get("reviewed_by", "no note"),
        todo_reviewed=c.todo.get("reviewed_on", "no note"),
        rows=rows.drop(columns=["activity"]).to_dict("records"), checks=checks.to_dict("records"))


def review_gaps(register: Register) -> list[str]:
    """What the register's review lacks: its reviewer and review date (controller.toml)."""
    c = register.controller
    return [f"controller.toml: {key} is empty ({c.todo.get(key, 'no note')})"
            for key in ("reviewed_by", "reviewed_on") if not getattr(c, key)]


def undeclared_for_subject(ws: Workspace, register: Register, subject_ids: list[str]) -> pd.DataFrame:
    """The subject's data that no activity of its system declares (a BSN, a birth date): one row per
    system, export, column and category, with how many records hold it. For the officer when a
    package is prepared: the data stays listed truthfully for the client, and its deletion or
    declaration is the officer's decision. Column and category names only, never values."""
    columns = ["service", "export_kind", "column", "field", "category", "records"]
    cells = pd.concat([subject_map(ws, register, s) for s in subject_ids], ignore_index=True) \
        if subject_ids else pd.DataFrame(columns=SUBJECT_COLUMNS)
    cells = cells[cells.category.notna()]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    undeclared = cells[[not register.declared(c, s)
                        for c, s in zip(cells.category, cells.service, strict=True)]]
    return undeclared.groupby(["service", "export_kind", "column", "field", "category"], as_index=False) \
        .agg(records=("source_row", "nunique"))[columns]


def subject_map(ws: Workspace, register: Register, subject_id: str) -> pd.DataFrame:
    """Every record and field of one subject in every system, with its data category, source
    file and row, processor, purpose, legal basis and retention rule."""
    members = linkage.subject_parties(ws, subject_id)
    if members.empty:
        return pd.DataFrame(columns=SUBJECT_COLUMNS)
    ws_records = ws.query("""
        WITH m AS (SELECT * FROM members), r AS (
            SELECT p.service, p.export_kind, p.import_id, p.source_row, 'party' AS record
            FROM parties p JOIN m USING (service, export_kind, party_key)
            UNION ALL
            SELECT d.service, d.export_kind, d.import_id, d.source_row, d.doc_type
            FROM documents d JOIN m USING (service, export_kind, party_key))
        -- a payment row is both the payer and the payment: one source row, shown once
        SELECT service, export_kind, import_id, source_row,
               string_agg(DISTINCT record, '+' ORDER BY record) AS record
        FROM r GROUP BY ALL""", frames={"members": members})
    cells = ws.query(f"""
        SELECT r.service, r.export_kind, i.file_name, i.file_sha256, r.source_row, r.record,
               c.name AS column, json_extract_string(raw.record, {JSON_PATH_SQL.format(name="c.name")})
               AS value, c.field
        FROM recs r JOIN imports i USING (import_id)
        JOIN {RAW_RECORDS_OF.format(rows="recs")} raw
            ON raw.import_id = r.import_id AND raw.source_row = r.source_row
        JOIN columns c ON c.import_id = r.import_id
        ORDER BY r.service, r.export_kind, r.source_row, c.position""", frames={"recs": ws_records})
    cells = cells[cells.value.fillna("").ne("")]
    return _annotate(cells, register)


def _annotate(cells: pd.DataFrame, register: Register) -> pd.DataFrame:
    cells = cells.copy()
    cells["category"] = [register.category_of(f) if isinstance(f, str) and f != "other" else None
                         for f in cells.field]
    systems = cells.service.map(register.systems.get)
    cells["processor"] = systems.map(lambda s: register.processors[s.processor].name if s else None)
    activities = cells.service.map(register.activities_for)
    cells["purpose"] = activities.map(lambda acts: "; ".join(a.purpose_nl for a in acts))
    cells["legal_basis"] = activities.map(lambda acts: "; ".join(sorted({a.legal_basis for a in acts})))
    cells["retention"] = [_retention(register, cat, svc)
                          for cat, svc in zip(cells.category, cells.service, strict=True)]
    return cells[SUBJECT_COLUMNS].reset_index(drop=True)


def _retention(register: Register, category: object, service: str) -> str | None:
    if not isinstance(category, str):
        return None
    rule = register.retention_for(category, service)
    return rule.period_text if rule else "not declared in the register for this system"
