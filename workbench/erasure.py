"""Erasure (Art. 17 GDPR) and the other rights: the plan per system and record, the purge of the
workspace, and the to-do list for rectification, restriction and objection.

**The plan** (:func:`plan`) lists every record of the subject in every imported system (service,
export kind, record type, source file and row, document date) with what happens to it:

* ``delete``: a client profile (a party record: contact, relation, customer) under the register's
  ``client_profile`` rule. The policy: a client who says they no longer use the firm's services
  is handled as an erasure request;
* ``retain`` until a date: a document (invoice, payment, refund, bank or journal line) under a
  rule whose ``on_erasure`` is ``retain``: a legal obligation to keep it (Art. 17(3)(b) GDPR; art.
  52 AWR, checklist NL-01/NL-02). The date is 31 December of the document's year plus the rule's
  years (7 years after the end of the financial year; the firm's financial year is the calendar
  year). A document whose date has passed is deleted instead (its retention has ended);
* ``anonymise``: a rule whose ``on_erasure`` is ``anonymise``, and Exact Online relations that
  carry bookings still under retention: Exact keeps the relation on its bookings, so it is
  blocked now and anonymised with Exact's GDPR function once the retention has ended.

Which rule applies is decided per *record*, not per field: a record that is or holds a document
is kept whole (an invoice must state the client's name and address, art. 35a Wet OB); a record
that is only a party falls under the client profile rule. Each row carries the concrete step for
the analyst in that service (menu paths marked *inferred* in :data:`STEPS` could not be checked
against the live service). **The workbench never changes the source systems**: the analyst
carries out the steps there.

**The purge** (:func:`purge`) carries the plan out inside the workspace, so the workbench does not
become a shadow copy: the subject's records that need not be kept are removed from
``party_versions``, ``document_versions``, ``identifier_versions`` and ``raw_records``, and the
subject is removed from the linkage tables (``subjects``, ``subject_lookup``, its ``link_candidates``, and
``link_decisions`` about parties that are gone). What must be kept stays, as the legal copy, and is
marked in ``retention_holds`` (service, export kind, import id, source row, until, rule, request
id). Then the database file is rewritten (:func:`workbench.requests.compact`) so the removed
values do not linger in its free blocks, and the audit log gets a ``purge`` entry with counts
only.

**The honest limit: raw files.** ``raw/<sha256>`` holds each imported export unchanged; one file
holds many subjects and is the immutable evidence of what was imported, so it cannot be edited.
The purge records in ``erased_raw_rows`` which rows of which file belonged to the subject (row
numbers and hashes, no values), says so in :class:`PurgeResult`, and the workbench no longer reads
those rows (their ``raw_records`` are gone). The bytes stay in the file until the whole file is
deleted when its own retention ends. A *new* export from a service imported before the analyst
has carried out the steps there brings the subject back: carry out the steps first.

**Rectification, restriction and objection** (:func:`rights_todo`) give the same per-system to-do
list: rectify the field in the source service (issued invoices are corrected by a credit note, not
edited); restrict: mark the record and stop processing in each system (Art. 18); objection: stop
the processing whose legal basis in the register is legitimate interests (Art. 21(1)); processing
on another basis is listed with the reason the objection does not apply to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from workbench import audit, linkage, requests
from workbench.errors import WorkbenchError
from workbench.register import LEGAL_BASES, Register, RetentionRule
from workbench.safe_files import write_csv
from workbench.workspace import Workspace

PROFILE_RULE = "client_profile"  # the rule of a party record (the client profile)
FALLBACK_DOCUMENT_RULE = "fiscal_records"  # documents of a service the register does not know
FINANCIAL_YEAR_END = (12, 31)  # the firm's financial year is the calendar year
ACTIONS = ("delete", "retain", "anonymise", "check")

PLAN_COLUMNS = ["subject_id", "service", "system", "export_kind", "record", "file_name", "import_id",
                "source_row", "reference", "document_date", "action", "until", "rule", "legal_reference",
                "step", "workspace"]
TODO_COLUMNS = ["system", "record", "legal_basis", "action", "step"]

HOLDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS retention_holds (
    service VARCHAR NOT NULL, export_kind VARCHAR NOT NULL, import_id INTEGER NOT NULL,
    source_row INTEGER NOT NULL, until DATE, rule VARCHAR NOT NULL, request_id VARCHAR,
    held_on DATE NOT NULL);
CREATE TABLE IF NOT EXISTS erased_raw_rows (
    request_id VARCHAR, import_id INTEGER NOT NULL, stored_sha256 VARCHAR NOT NULL,
    source_row INTEGER NOT NULL, erased_on DATE NOT NULL);
"""

# The analyst's step per service and kind of record. {until} is the retention date.
# Menu paths were written from the services' help pages as remembered, not checked against the
# live services: each is marked "inferred" in the comment beside it.
STEPS: dict[tuple[str, str], str] = {
    # inferred: Mollie Dashboard menu "Customers" (Klanten) with a delete action per customer
    ("mollie", "profile"): "Mollie Dashboard: Customers > customer > Delete customer; payments stay "
                           "under the fiscal rule",
    # inferred: payments cannot be deleted in Mollie; Mollie keeps them under its own legal duty
    ("mollie", "document"): "Mollie Dashboard: nothing to delete (Mollie keeps the payment under its "
                            "own legal duty); the firm keeps its settlement copy until {until}",
    # inferred: MoneyBird archives a contact that invoices refer to; deleting needs no invoices
    ("moneybird", "profile"): "MoneyBird: Contacten > contact > Archiveren (invoices stay, 7 years); "
                              "Verwijderen only once no invoice refers to the contact",
    # inferred: MoneyBird Verkoop > Facturen; deleting a sent invoice is possible only after the term
    ("moneybird", "document"): "MoneyBird: keep the invoice/booking until {until}, for the "
                               "bookkeeping only; then Verkoop > Facturen > factuur > Verwijderen",
    # inferred: FactuurSturen Klanten list with Verwijderen, or Inactief while invoices refer to it
    ("factuursturen", "profile"): "FactuurSturen: Klanten > klant > Verwijderen / Inactief (Inactief "
                                  "while invoices refer to the client)",
    # inferred: FactuurSturen Facturen > factuur > Verwijderen
    ("factuursturen", "document"): "FactuurSturen: keep the invoice until {until}; then Facturen > "
                                   "factuur > Verwijderen",
    # inferred: Exact Online CRM > Relaties, Verwijderen only without bookings
    ("exact", "profile"): "Exact Online: Relaties > relatie > Verwijderen (no bookings of the relation "
                          "are kept)",
    # inferred: Exact Online relation status "Geblokkeerd" and the AVG/GDPR "Anonimiseren" function
    ("exact", "anonymise"): "Exact Online: Relaties > relatie > status Geblokkeerd now; Relaties > "
                            "relatie > Anonimiseren (Exact's GDPR anonymise function) after the "
                            "retention date {until}",
    # inferred: bookings stay in the administration (Financieel > Boekingen)
    ("exact", "document"): "Exact Online: keep the invoice/booking in the administration until {until}; "
                           "nothing to do now",
}
GENERIC_STEPS = {
    "profile": "{system}: delete the client's profile (contact/customer record) in the service",
    "anonymise": "{system}: anonymise the record with the service's own function after {until}",
    "document": "{system}: keep the record until {until}, for the bookkeeping only",
    "expired": "{system}: the retention ended on {until}: delete the record in the service",
}
# Systems the register names without an export the workbench imports.
UNIMPORTED_STEPS = {
    "mail": "E-mail (Gmail): search the mailbox for the client's addresses and name; delete the "
            "conversations (rule email_correspondence); keep mail that is part of the administration "
            "(orders, accepted quotes, invoices) under the fiscal rule",
    "hosting": "Website hosting: the web server logs hold IP addresses, not the e-mail address; they "
               "go after 3 months (web_server_logs); if the web shop keeps orders or an account of "
               "the client, delete the account and keep the orders under the fiscal rule",
    "analytics": "Google Analytics: holds no e-mail address or name (no User-ID); nothing to find by "
                 "the client's identifiers; event data goes after 14 months (analytics_data)",
}

# Rectification and restriction, per service and kind of record (inferred menu paths, as above).
RECTIFY_STEPS = {
    "profile": "{system}: open the client's record ({where}) and correct the field the client names; "
               "the workbench's copy follows with the next import of the export",
    "document": "{system}: an issued invoice or booking is not edited; if its data is wrong, issue a "
                "credit invoice and a corrected invoice (art. 35a Wet OB) or a correcting entry",
}
RECORD_WHERE = {  # inferred menu paths
    "mollie": "Mollie Dashboard: Customers > customer > Edit",
    "moneybird": "MoneyBird: Contacten > contact > Bewerken",
    "factuursturen": "FactuurSturen: Klanten > klant > Wijzigen",
    "exact": "Exact Online: Relaties > relatie > Wijzigen",
}
RESTRICT_STEPS = {  # inferred menu paths
    "mollie": "Mollie Dashboard: Customers > customer: cancel open subscriptions and mandates; send no "
              "new payment links; note the restriction (Art. 18) in the firm's own records",
    "moneybird": "MoneyBird: Contacten > contact > Archiveren and a note 'verwerking beperkt (AVG art. "
                 "18)'; no new invoices, reminders or mailings to the contact",
    "factuursturen": "FactuurSturen: Klanten > klant > Inactief and a note 'verwerking beperkt (AVG "
                     "art. 18)'; no new invoices or reminders",
    "exact": "Exact Online: Relaties > relatie > status Geblokkeerd and a note 'verwerking beperkt (AVG "
             "art. 18)'",
}
RESTRICT_DOCUMENT = ("{system}: keep the record stored only; use it for nothing but legal claims or with "
                     "the client's consent (Art. 18(2)) until the restriction is lifted")


# ------------------------------------------------------------------------------------------------
# the plan


def _records(ws: Workspace, subject_id: str) -> pd.DataFrame:
    """Every source record (import, row) of the subject, every version: its record type, reference,
    document date and whether it is or holds a document."""
    members = linkage.subject_parties(ws, subject_id)
    columns = ["service", "export_kind", "import_id", "file_name", "stored_sha256", "source_row",
               "record", "reference", "document_date", "is_document"]
    if members.empty:
        return pd.DataFrame(columns=columns)
    return ws.query("""
        WITH m AS (SELECT service, export_kind, party_key FROM members), r AS (
            SELECT p.service, p.export_kind, p.import_id, p.source_row, 'party' AS kind,
                   NULL::VARCHAR AS reference, NULL::TIMESTAMP AS date
            FROM party_versions p JOIN m USING (service, export_kind, party_key)
            UNION ALL
            SELECT d.service, d.export_kind, d.import_id, d.source_row, coalesce(d.doc_type, 'document'),
                   coalesce(d.reference, d.doc_key), d.date
            FROM document_versions d JOIN m USING (service, export_kind, party_key))
        SELECT r.service, r.export_kind, r.import_id, i.file_name, i.stored_sha256, r.source_row,
               string_agg(DISTINCT r.kind, '+' ORDER BY r.kind) AS record,
               string_agg(DISTINCT r.reference, ', ' ORDER BY r.reference) AS reference,
               max(r.date)::DATE AS document_date, bool_or(r.kind <> 'party') AS is_document
        FROM r JOIN imports i USING (import_id)
        GROUP BY ALL ORDER BY r.service, r.export_kind, r.import_id, r.source_row""",
                    frames={"members": members})[columns]


def retention_until(rule: RetentionRule, document_date: date) -> date:
    """The last day a document under ``rule`` must be kept: the end of its financial year plus the
    rule's period (7 years: 31 December of the year + 7)."""
    year_end = date(document_date.year, *FINANCIAL_YEAR_END)
    return requests.add_months(year_end, round((rule.years or 0) * 12))


def _document_rule(register: Register, service: str) -> RetentionRule:
    """The longest rule with a duty to retain among the system's activities."""
    rules = [register.retention_rules[a.retention] for a in register.activities_for(service)]
    keep = [r for r in rules if r.on_erasure == "retain"]
    if keep:
        return max(keep, key=lambda r: r.years or 0)
    if FALLBACK_DOCUMENT_RULE in register.retention_rules:
        return register.retention_rules[FALLBACK_DOCUMENT_RULE]
    raise WorkbenchError(f"the register has no retention rule for documents of {service}")


def _profile_rule(register: Register, service: str) -> RetentionRule:
    if PROFILE_RULE in register.retention_rules:
        return register.retention_rules[PROFILE_RULE]
    rules = [register.retention_rules[a.retention] for a in register.activities_for(service)]
    rules = [r for r in rules if r.on_erasure != "retain"]
    if not rules:
        raise WorkbenchError(f"the register has no rule {PROFILE_RULE!r} for client profiles of {service}")
    return rules[0]


def _reference(rule: RetentionRule, action: str) -> str:
    if action == "retain":
        return "Art. 17(3)(b) GDPR" + (f"; {rule.legal_reference}" if rule.legal_reference else "")
    if action == "anonymise" and rule.on_erasure == "retain":
        return "Art. 17(3)(b) GDPR until the retention date, then Art. 17(1)(a)" + (
            f"; {rule.legal_reference}" if rule.legal_reference else "")
    return "Art. 17(1)(a) GDPR" + (f"; {rule.legal_reference}" if rule.legal_reference else "")


def _step(service: str, kind: str, system: str, until: date | None) -> str:
    text = STEPS.get((service, kind)) or GENERIC_STEPS[kind]
    return text.format(system=system, until=until or "the retention date")


def plan(ws: Workspace, register: Register, request_id: str | None = None, *,
         subject_ids: list[str], today: date | None = None) -> pd.DataFrame:
    """The erasure plan: one row per system and source record of the subjects (see the module
    docstring), plus one ``check`` row per system of the register that holds client data but has
    no export in the workspace. ``request_id`` only labels the plan."""
    today = today or date.today()
    if not subject_ids:
        raise WorkbenchError("no subject to plan for: give the subject ids")
    rows: list[dict] = []
    seen: set[tuple[int, int]] = set()
    for subject_id in subject_ids:
        records = _records(ws, subject_id)
        if records.empty:
            raise WorkbenchError(f"subject {subject_id!r} is unknown or has no records; "
                                 "find it with 'workbench find'")
        holds: dict[str, date] = {}  # per service: the latest retention date of its kept documents
        planned = []
        for rec in records.to_dict("records"):
            key = (int(rec["import_id"]), int(rec["source_row"]))
            if key in seen:
                continue
            seen.add(key)
            planned.append(rec)
            service = rec["service"]
            system = register.systems[service].name if service in register.systems else service
            if rec["is_document"]:
                rule = _document_rule(register, service)
                day = rec["document_date"]
                day = None if day is None or pd.isna(day) else pd.Timestamp(day).date()
                if rule.on_erasure == "retain":
                    # a document without a date is counted from today: kept at least as long
                    until = retention_until(rule, day or today)
                    if until >= today:
                        action, kind = "retain", "document"
                        holds[service] = max(holds.get(service, until), until)
                    else:
                        action, kind = "delete", "expired"
                else:
                    until, action = None, ("anonymise" if rule.on_erasure == "anonymise" else "delete")
                    kind = "anonymise" if action == "anonymise" else "expired"
                step = (_step(service, kind, system, until) if kind != "expired"
                        else GENERIC_STEPS["expired"].format(system=system, until=until or today))
            else:
                rule = _profile_rule(register, service)
                until, action, day = None, {"retain": "retain", "anonymise": "anonymise"}.get(
                    rule.on_erasure, "delete"), None
                step = None  # set below, once the service's kept documents are known
            rows.append({
                "subject_id": subject_id, "service": service, "system": system,
                "export_kind": rec["export_kind"], "record": rec["record"], "file_name": rec["file_name"],
                "import_id": int(rec["import_id"]), "source_row": int(rec["source_row"]),
                "reference": "" if pd.isna(rec["reference"]) else rec["reference"],
                "document_date": day, "action": action,
                "until": until, "rule": rule.key, "legal_reference": _reference(rule, action),
                "step": step, "workspace": None, "_rule": rule})
        for row in rows:
            if row["subject_id"] != subject_id or row["step"] is not None:
                continue
            service, kept = row["service"], holds.get(row["service"])
            if row["action"] == "retain":  # a profile rule with a duty to keep: as long as the documents
                row["until"] = kept or retention_until(row["_rule"], today)
                row["step"] = _step(service, "document", row["system"], row["until"])
            elif service == "exact" and kept:  # Exact keeps the relation on its bookings
                row.update(action="anonymise", until=kept,
                           legal_reference=_reference(_document_rule(register, service), "anonymise"))
                row["step"] = _step(service, "anonymise", row["system"], kept)
            elif row["action"] == "anonymise":
                row["step"] = _step(service, "anonymise", row["system"], None)
            else:
                row["step"] = _step(service, "profile", row["system"], None)
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    for key, system in register.systems.items():
        if key in imported or not any("customer" in a.data_subjects for a in register.activities_for(key)):
            continue
        rule = register.retention_rules[register.activities_for(key)[0].retention]
        rows.append({"subject_id": ", ".join(subject_ids), "service": key, "system": system.name,
                     "export_kind": "", "record": "(no export imported)", "file_name": "",
                     "import_id": None, "source_row": None, "reference": "", "document_date": None,
                     "action": "check", "until": None, "rule": rule.key, "legal_reference": "Art. 17(1) GDPR",
                     "step": UNIMPORTED_STEPS.get(key, f"{system.name}: search the system for the client "
                                                       "and delete what no rule obliges the firm to keep"),
                     "workspace": "nothing imported", "_rule": rule})
    frame = pd.DataFrame(rows, columns=[*PLAN_COLUMNS, "_rule"]).drop(columns="_rule")
    frame["workspace"] = [
        w if isinstance(w, str)
        else f"kept with a retention hold until {u}" if a == "retain" else "removed by the purge"
        for w, a, u in zip(frame["workspace"], frame["action"], frame["until"], strict=True)]
    for column in ("import_id", "source_row"):
        frame[column] = frame[column].astype("Int64")
    frame.attrs["request_id"] = request_id
    return frame.reset_index(drop=True)


def summary(frame: pd.DataFrame) -> dict[str, int]:
    """Records per action: counts only, for the audit log."""
    return {a: int(n) for a, n in frame["action"].value_counts().items()}


def format_plan(frame: pd.DataFrame) -> str:
    """The plan as text, per system: what the analyst does where."""
    lines = []
    for (service, system), group in frame.groupby(["service", "system"], sort=False):
        counts = ", ".join(f"{a} {n}" for a, n in summary(group).items())
        lines.append(f"== {system} ({service}): {counts}")
        for row in group.itertuples(index=False):
            if row.action == "check":
                lines.append(f"  check: {row.record}; rule {row.rule}")
                continue
            where = f"{row.file_name} row {row.source_row}" if row.file_name else row.record
            dated = f" dated {row.document_date}" if row.document_date is not None else ""
            ref = f" [{row.reference}]" if row.reference else ""
            until = f" until {row.until}" if row.until is not None and row.action != "delete" else ""
            lines.append(f"  {row.action}{until}: {row.export_kind} {row.record}{ref}{dated} ({where}); "
                         f"rule {row.rule}, {row.legal_reference}")
        for step in dict.fromkeys(group["step"]):
            lines.append(f"  step: {step}")
    return "\n".join(lines)


def write_plan(frame: pd.DataFrame, out: Path) -> Path:
    """The plan as CSV: owner-only, formula-safe."""
    return write_csv(frame, Path(out))


def log_plan(ws: Workspace, frame: pd.DataFrame, request_id: str | None,
             files: dict[str, str] | None = None) -> audit.Entry:
    """The audit entry of a plan: request id, counts and file hashes only."""
    subjects = {s for value in frame["subject_id"] for s in str(value).split(", ")}
    return audit.record(ws, "plan", request_id=request_id, files=files,
                        details={"subjects": len(subjects), "records": summary(frame)})


# ------------------------------------------------------------------------------------------------
# the purge


@dataclass
class PurgeResult:
    """What :func:`purge` did, in counts; ``raw_files`` maps each raw file (its SHA-256) to the
    number of the subject's rows it still holds as bytes (covered by the purge, not editable)."""

    request_id: str | None
    subjects: int
    removed: dict[str, int] = field(default_factory=dict)
    held: int = 0
    held_until: date | None = None
    raw_files: dict[str, int] = field(default_factory=dict)
    plan: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def lines(self) -> list[str]:
        removed = ", ".join(f"{t} {n}" for t, n in self.removed.items())
        out = [f"purged {self.subjects} subject(s) from the workspace: removed {removed}",
               f"kept {self.held} record(s) under a legal retention duty, marked in retention_holds"
               + (f" (the last until {self.held_until})" if self.held_until else ""),
               "the database file was rewritten so the removed values do not linger in it"]
        if self.raw_files:
            rows = sum(self.raw_files.values())
            out.append(f"limit: {rows} row(s) of the subject remain as bytes in {len(self.raw_files)} "
                       "immutable raw export file(s) (raw/<sha256>, shared with other clients); they "
                       "are recorded in erased_raw_rows, no longer read, and go with the whole file "
                       "when its retention ends")
        out.append("the source systems are unchanged: carry out the plan's steps there, before the "
                   "next import of those exports")
        return out


def purge(ws: Workspace, register: Register, subject_ids: list[str], request_id: str | None,
          today: date | None = None) -> PurgeResult:
    """Carry the erasure plan out inside the workspace (see the module docstring)."""
    today = today or date.today()
    frame = plan(ws, register, request_id, subject_ids=subject_ids, today=today)
    records = frame[frame["import_id"].notna()].copy()
    records["import_id"] = records["import_id"].astype("int64")
    records["source_row"] = records["source_row"].astype("int64")
    gone = records[records["action"].isin(["delete", "anonymise"])][
        ["service", "export_kind", "import_id", "source_row"]]
    kept = records[records["action"].eq("retain")]
    members = pd.concat([linkage.subject_parties(ws, s)[["service", "export_kind", "party_key"]]
                         for s in subject_ids], ignore_index=True)
    holds = pd.DataFrame({
        "service": kept["service"], "export_kind": kept["export_kind"], "import_id": kept["import_id"],
        "source_row": kept["source_row"], "until": pd.to_datetime(kept["until"]).dt.date,
        "rule": kept["rule"], "request_id": request_id, "held_on": today})
    subjects = pd.DataFrame({"subject_id": list(subject_ids)})
    removed: dict[str, int] = {}
    with ws.connect() as con:
        con.execute(HOLDS_SCHEMA)
        con.execute(linkage.SCHEMA)
        for name, value in (("gone", gone), ("members", members), ("holds", holds), ("sids", subjects)):
            con.register(name, value)
        con.begin()
        try:
            for table in ("identifier_versions", "party_versions", "document_versions"):
                removed[table] = con.execute(f"""
                    DELETE FROM {table} t WHERE EXISTS (
                        SELECT 1 FROM gone g JOIN members m USING (service, export_kind)
                        WHERE g.import_id = t.import_id AND g.source_row = t.source_row
                          AND g.service = t.service AND g.export_kind = t.export_kind
                          AND m.party_key = t.party_key)""").fetchone()[0]
            # the raw record goes unless another party or document still comes from it
            raw = con.execute("""
                SELECT g.import_id, g.source_row, i.stored_sha256 FROM gone g JOIN imports i USING (import_id)
                WHERE NOT EXISTS (SELECT 1 FROM party_versions p WHERE p.import_id = g.import_id
                                  AND p.source_row = g.source_row)
                  AND NOT EXISTS (SELECT 1 FROM document_versions d WHERE d.import_id = g.import_id
                                  AND d.source_row = g.source_row)""").df()
            con.register("raw_gone", raw)
            removed["raw_records"] = con.execute("""
                DELETE FROM raw_records r WHERE EXISTS (SELECT 1 FROM raw_gone g
                    WHERE g.import_id = r.import_id AND g.source_row = r.source_row)""").fetchone()[0]
            con.execute("""INSERT INTO erased_raw_rows SELECT ?, import_id, stored_sha256, source_row, ?
                           FROM raw_gone""", [request_id, today])
            # parties left without any version are gone: so are the analyst's decisions about them
            con.execute("""CREATE TEMP TABLE gone_parties AS SELECT DISTINCT m.* FROM members m
                           WHERE NOT EXISTS (SELECT 1 FROM party_versions p WHERE p.service = m.service
                               AND p.export_kind = m.export_kind AND p.party_key = m.party_key)""")
            removed["link_decisions"] = con.execute("""
                DELETE FROM link_decisions d WHERE EXISTS (SELECT 1 FROM gone_parties g WHERE
                    (g.service = d.service_a AND g.export_kind = d.export_kind_a
                     AND g.party_key = d.party_key_a)
                 OR (g.service = d.service_b AND g.export_kind = d.export_kind_b
                     AND g.party_key = d.party_key_b))""").fetchone()[0]
            con.execute("DROP TABLE gone_parties")
            removed["link_candidates"] = con.execute("""
                DELETE FROM link_candidates WHERE subject_a IN (SELECT subject_id FROM sids)
                   OR subject_b IN (SELECT subject_id FROM sids)""").fetchone()[0]
            removed["subjects"] = con.execute(
                "DELETE FROM subjects WHERE subject_id IN (SELECT subject_id FROM sids)").fetchone()[0]
            con.execute("DELETE FROM subject_lookup WHERE subject_id IN (SELECT subject_id FROM sids)")
            con.execute("INSERT INTO retention_holds BY NAME SELECT * FROM holds")
            con.commit()
        except BaseException:
            con.rollback()
            raise
    ws.compact()
    raw_files = {sha: int(n) for sha, n in raw.groupby("stored_sha256").size().items()}
    result = PurgeResult(request_id, len(subject_ids), removed, held=len(holds),
                         held_until=max(holds["until"]) if len(holds) else None, raw_files=raw_files,
                         plan=frame)
    audit.record(ws, "purge", request_id=request_id, details={
        "subjects": len(subject_ids), "removed": removed, "held": len(holds),
        "held_until": result.held_until, "raw_files": len(raw_files),
        "raw_rows_covered": int(sum(raw_files.values())), "records": summary(frame)})
    return result


def holds(ws: Workspace) -> pd.DataFrame:
    """Every retention hold: records kept under a legal duty after an erasure request."""
    with ws.connect() as con:
        con.execute(HOLDS_SCHEMA)
    return ws.query("SELECT * FROM retention_holds "
                    "ORDER BY until, service, export_kind, import_id, source_row")


# ------------------------------------------------------------------------------------------------
# rectification, restriction, objection

TODO_TYPES = ("rectification", "restriction", "objection")


def rights_todo(ws: Workspace, register: Register, request_type: str, *,
                subject_ids: list[str]) -> pd.DataFrame:
    """The per-system to-do list for a rectification, restriction or objection request."""
    if request_type not in TODO_TYPES:
        raise WorkbenchError(f"a to-do list is made for {', '.join(TODO_TYPES)}, not {request_type!r}; "
                             "erasure has 'workbench erasure-plan'")
    records = pd.concat([_records(ws, s) for s in subject_ids], ignore_index=True)
    if records.empty:
        raise WorkbenchError("the subjects have no records in the workspace; find them with 'workbench find'")
    rows = []
    for service, group in records.groupby("service", sort=True):
        system = register.systems[service].name if service in register.systems else service
        bases = sorted({a.legal_basis for a in register.activities_for(service)})
        basis = "; ".join(LEGAL_BASES[b] for b in bases) or "not in the register"
        kinds = {"profile": int((~group["is_document"].astype(bool)).sum()),
                 "document": int(group["is_document"].astype(bool).sum())}
        for kind, count in kinds.items():
            if not count:
                continue
            record = f"{count} {'client profile' if kind == 'profile' else 'document'} record(s)"
            if request_type == "rectification":
                step = RECTIFY_STEPS[kind].format(system=system, where=RECORD_WHERE.get(service, system))
                rows.append([system, record, basis, "rectify", step])
            elif request_type == "restriction":
                step = (RESTRICT_STEPS.get(service, f"{system}: mark the client's record as restricted "
                                                    "(Art. 18) and stop processing it")
                        if kind == "profile" else RESTRICT_DOCUMENT.format(system=system))
                rows.append([system, record, basis, "restrict", step])
        if request_type == "objection":
            for activity in register.activities_for(service):
                rows.append(_objection_row(system, activity))
    if request_type == "objection":
        imported = set(records["service"])
        for key, system in register.systems.items():
            if key in imported:
                continue
            for activity in register.activities_for(key):
                if activity.legal_basis == "legitimate_interests" and set(activity.data_subjects) & {
                        "customer", "visitor", "prospect"}:
                    rows.append(_objection_row(system.name, activity))
    return pd.DataFrame(rows, columns=TODO_COLUMNS)


def _objection_row(system: str, activity) -> list[str]:
    basis = LEGAL_BASES[activity.legal_basis]
    if activity.legal_basis == "legitimate_interests":
        step = (f"{system}: stop '{activity.name_en}' for this person unless the firm shows compelling "
                "legitimate grounds that override their interests (Art. 21(1)); record the decision. "
                f"Interest weighed in the register: {activity.lia.split('.')[0]}.")
        return [system, activity.name_en, basis, "stop processing", step]
    step = (f"{system}: '{activity.name_en}' rests on {basis}, not on Art. 6(1)(e) or (f): the right to "
            "object (Art. 21(1)) does not apply; say so in the answer, with the basis")
    return [system, activity.name_en, basis, "no change (explain)", step]


def format_todo(frame: pd.DataFrame) -> str:
    lines = []
    for system, group in frame.groupby("system", sort=False):
        lines.append(f"== {system}")
        for row in group.itertuples(index=False):
            lines.append(f"  {row.action}: {row.record} ({row.legal_basis})")
            lines.append(f"    step: {row.step}")
    return "\n".join(lines)


def todo_note(request_type: str, frame: pd.DataFrame, digest: str) -> str:
    """The register note for a to-do list: counts, systems and the list's hash, no personal data."""
    actions = ", ".join(f"{a} {n}" for a, n in frame["action"].value_counts().items())
    systems = ", ".join(dict.fromkeys(frame["system"]))
    return f"{request_type} to-do list made: {actions} in {systems} (list sha256 {digest[:16]})"


def frame_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
