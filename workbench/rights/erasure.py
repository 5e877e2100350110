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
* ``anonymise``: a rule whose ``on_erasure`` is ``anonymise``, and a party a system keeps while
  its documents are kept (a bookkeeping relation that carries bookings still under retention;
  ``keeps_party_with_documents`` in the register's ``steps.toml``): it is blocked now and
  anonymised with the system's own function once the retention has ended.

Which rule applies is decided per *record*, not per field: a record that is or holds a document
is kept whole (an invoice must state the client's name and address, art. 35a Wet OB); a record
that is only a party falls under the client profile rule. Each row carries the concrete step for
the analyst in that service, worded by the register's ``steps.toml`` (menu paths whose evidence
says *inferred* could not be checked against the live service). **The workbench never changes
the source systems**: the analyst carries out the steps there.

**The mailbox**, when one is imported (:mod:`workbench.datamap.mail`), gets one row: the subject's messages
and conversations, and in ``reference`` the search to paste into the mailbox that finds them
(their addresses as sender or recipient, phone numbers, IBANs and names, the Message-IDs of
messages found by content alone), to delete the conversations there. The search names the person, so it
is in the plan file, not on the screen. The purge removes the messages from the mail index.

**The purge** (:func:`purge`) carries the plan out inside the workspace, so the workbench does not
become a shadow copy: the subject's records that need not be kept are removed from
``party_versions``, ``document_versions``, ``identifier_versions`` and ``raw_records``, and the
subject is removed from the linkage tables (``subjects``, ``subject_lookup``, its ``link_candidates``, and
``link_decisions`` about parties that are gone). What must be kept stays, as the legal copy, and is
marked in ``retention_holds`` (service, export kind, import id, source row, until, rule, request
id). Then the database file is rewritten (:func:`workbench.rights.requests.compact`) so the removed
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

import csv
import hashlib
import io
import json
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from workbench.audit import trail
from workbench.datamap import linkage, mail, weblogs
from workbench.errors import WorkbenchError
from workbench.reference.register import LEGAL_BASES, Register, RetentionRule
from workbench.rights import requests
from workbench.store.safe_files import write_csv
from workbench.store.workspace import JSON_PATH_SQL, RAW_RECORDS_OF, Workspace, on_recovery, write_durably

PROFILE_RULE = "client_profile"  # the rule of a party record (the client profile)
FALLBACK_DOCUMENT_RULE = "fiscal_records"  # documents of a service the register does not know
FINANCIAL_YEAR_END = (12, 31)  # the firm's financial year is the calendar year
ACTIONS = ("delete", "retain", "anonymise", "check")

PLAN_COLUMNS = ["subject_id", "service", "system", "export_kind", "record", "file_name", "import_id",
                "source_row", "reference", "document_date", "action", "until", "rule", "legal_reference",
                "step", "workspace"]
TODO_COLUMNS = ["system", "record", "legal_basis", "action", "step"]

JOURNAL_NAME = ".erasure-journal.json"  # an erasure under way: a writer's open finishes it (resume)

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
    if rules:  # no duty to keep (web server logs, analytics events, sent mail): the system's own rule
        return max(rules, key=lambda r: r.years or 0)
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


def _step(register: Register, service: str, kind: str, until: date | None) -> str:
    """The register's wording of a kind of step in a service (steps.toml), filled in."""
    return register.steps.step(service, kind).fill(system=register.system_name(service),
                                                    until=until or "the retention date")


def plan(ws: Workspace, register: Register, request_id: str | None = None, *,
         subject_ids: list[str], today: date | None = None) -> pd.DataFrame:
    """The erasure plan: one row per system and source record of the subjects (see the module
    docstring), plus one ``check`` row per system of the register that holds client data but has
    no export in the workspace. ``request_id`` only labels the plan."""
    today = today or date.today()
    if not subject_ids:
        raise WorkbenchError("no subject to plan for: give the subject ids")
    rows: list[dict] = []
    seen: set[tuple[int, int]] = set()  # a record two subjects share is planned once
    for subject_id in subject_ids:
        rows.extend(_subject_rows(ws, register, subject_id, seen, today))
    rows.extend(_mail_rows(ws, register, subject_ids, today))
    rows.extend(_website_rows(ws, register, subject_ids))
    rows.extend(_unimported_rows(ws, register, subject_ids))
    frame = pd.DataFrame(rows, columns=[*PLAN_COLUMNS, "_rule"]).drop(columns="_rule")
    frame["workspace"] = [
        w if isinstance(w, str)
        else f"kept with a retention hold until {u}" if a == "retain" else "removed by the purge"
        for w, a, u in zip(frame["workspace"], frame["action"], frame["until"], strict=True)]
    for column in ("import_id", "source_row"):
        frame[column] = frame[column].astype("Int64")
    frame = _minimise(frame.reset_index(drop=True), field_plan(ws, register, frame, today=today), today)
    frame.attrs["request_id"] = request_id
    return frame


def _subject_rows(ws: Workspace, register: Register, subject_id: str, seen: set[tuple[int, int]],
                  today: date) -> list[dict]:
    """The plan's rows of one subject's source records not planned yet (``seen``)."""
    records = _records(ws, subject_id)
    if records.empty:
        raise WorkbenchError(f"subject {subject_id!r} is unknown or has no records; "
                             "find it with 'workbench find'")
    holds: dict[str, date] = {}  # per service: the latest retention date of its kept documents
    rows = []
    for rec in records.to_dict("records"):
        key = (int(rec["import_id"]), int(rec["source_row"]))
        if key in seen:
            continue
        seen.add(key)
        outcome = (_document_outcome(register, rec, today, holds) if rec["is_document"]
                   else _profile_outcome(register, rec["service"]))
        rows.append({**_record_columns(register, subject_id, rec), **outcome})
    for row in rows:  # a profile's step depends on the documents its service keeps
        if row["step"] is None:
            _profile_step(register, row, holds.get(row["service"]), today)
    return rows


def _record_columns(register: Register, subject_id: str, rec: dict) -> dict:
    return {"subject_id": subject_id, "service": rec["service"],
            "system": register.system_name(rec["service"]), "export_kind": rec["export_kind"],
            "record": rec["record"], "file_name": rec["file_name"],
            "import_id": int(rec["import_id"]), "source_row": int(rec["source_row"]),
            "reference": "" if pd.isna(rec["reference"]) else rec["reference"], "workspace": None}


def _outcome(rule: RetentionRule, action: str, until: date | None, day: date | None,
             step: str | None) -> dict:
    return {"document_date": day, "action": action, "until": until, "rule": rule.key,
            "legal_reference": _reference(rule, action), "step": step, "_rule": rule}


def _document_outcome(register: Register, rec: dict, today: date, holds: dict[str, date]) -> dict:
    """A document: retained until its rule's date (noted in ``holds``), deleted once that date has
    passed, or erased or anonymised under a rule without a duty to keep it."""
    service, rule = rec["service"], _document_rule(register, rec["service"])
    day = rec["document_date"]
    day = None if day is None or pd.isna(day) else pd.Timestamp(day).date()
    if rule.on_erasure != "retain":
        kind = "anonymise" if rule.on_erasure == "anonymise" else "erase"
        action = "anonymise" if kind == "anonymise" else "delete"
        return _outcome(rule, action, None, day, _step(register, service, kind, None))
    until = retention_until(rule, day or today)  # a document without a date counts from today
    if until < today:
        return _outcome(rule, "delete", until, day, _step(register, service, "expired", until))
    holds[service] = max(holds.get(service, until), until)
    return _outcome(rule, "retain", until, day, _step(register, service, "document", until))


def _profile_outcome(register: Register, service: str) -> dict:
    """A client profile under its rule; the step follows once the service's documents are known."""
    rule = _profile_rule(register, service)
    action = {"retain": "retain", "anonymise": "anonymise"}.get(rule.on_erasure, "delete")
    return _outcome(rule, action, None, None, None)


def _profile_step(register: Register, row: dict, kept: date | None, today: date) -> None:
    """The step of a profile row, given the last retention date of its service's kept documents;
    a service that keeps the party while they are kept gets it blocked and anonymised later."""
    service = row["service"]
    keeps_party = register.steps.keeps_party(service)
    if row["action"] == "retain":  # a profile rule with a duty to keep: as long as the documents
        row["until"] = kept or retention_until(row["_rule"], today)
        row["step"] = _step(register, service, "document", row["until"])
    elif keeps_party is not None and kept:
        row.update(action="anonymise", until=kept,
                   legal_reference=_reference(_document_rule(register, service), "anonymise"),
                   step=keeps_party.fill(system=row["system"], until=kept))
    else:
        row["step"] = _step(register, service, "anonymise" if row["action"] == "anonymise" else "profile",
                            None)


def _unimported_rows(ws: Workspace, register: Register, subject_ids: list[str]) -> list[dict]:
    """A ``check`` row per system of the register that holds client data but has no export in the
    workspace: the analyst searches it for the client."""
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    rows = []
    for key, system in register.systems.items():
        activities = register.activities_for(key)
        if key in imported or not any("customer" in a.data_subjects for a in activities):
            continue
        rule = register.retention_rules[activities[0].retention]
        rows.append(_check_row(subject_ids, key, system.name, rule, record="(no export imported)",
                               step=_step(register, key, "unimported", None), workspace="nothing imported",
                               legal_reference="Art. 17(1) GDPR"))
    return rows


def _mail_rows(ws: Workspace, register: Register, subject_ids: list[str], today: date) -> list[dict]:
    """The subjects' messages in the imported mailbox: one row with the search to paste into the
    mailbox that finds them, to delete the conversations there (the register's e-mail rule keeps
    mail at most two years after a conversation's last message; an erasure request ends it
    sooner)."""
    if not mail.imported(ws):
        return []
    found = mail.subject_messages(ws, subject_ids)
    threads = mail.conversations(found, register, today)
    rule = register.retention_rules[mail.RETENTION_RULE]
    system = register.system_name(mail.SERVICE)
    search = mail.mailbox_search(found, mail.identities(ws, subject_ids))
    if found.empty:  # the imported mailbox may be older than the mail in the mailbox: said, not skipped
        return [_check_row(subject_ids, mail.SERVICE, system, rule, reference=search,
                           workspace="nothing found", record="(no message found in the imported mailbox)",
                           step=register.steps.step(mail.SERVICE, "mailbox_none").fill(system=system))]
    last = found["date"].max()
    kinds = ws.query("SELECT DISTINCT export_kind FROM imports WHERE service = ?",
                     [mail.SERVICE])["export_kind"]
    return [_check_row(
        subject_ids, mail.SERVICE, system, rule, export_kind=", ".join(kinds), action="delete",
        record=f"{len(found)} messages in {len(threads)} conversations "
               f"({int(threads['past'].sum())} past the retention of {rule.period_text})",
        file_name=", ".join(dict.fromkeys(found["file"])), reference=search,
        document_date=None if pd.isna(last) else pd.Timestamp(last).date(),
        step=register.steps.step(mail.SERVICE, "mailbox").fill(system=system),
        workspace="removed from the mail index by the purge; the mbox in raw/ keeps them")]


def _website_rows(ws: Workspace, register: Register, subject_ids: list[str]) -> list[dict]:
    """The web server's log lines the evidence ties to the subjects (beyond their own logins, which
    are records of their own), and the analytics deletion step, by the client id only the person
    can give. Neither is a record of the workspace the purge removes: a step for the officer in the
    service, like a system without an export."""
    rows = []
    tied = weblogs.tied_lines(ws, subject_ids)
    by_ip = tied[tied.tie.ne("login")]
    if not by_ip.empty:
        rule = register.retention_rules[register.activities_for(weblogs.HOSTING)[0].retention]
        system = register.system_name(weblogs.HOSTING)
        rows.append(_check_row(
            subject_ids, weblogs.HOSTING, system, rule,
            export_kind=", ".join(dict.fromkeys(by_ip.export_kind)),
            record=f"{len(by_ip)} log lines tied by IP address (order or same visit)",
            file_name=", ".join(dict.fromkeys(by_ip.file_name)),
            step=register.steps.step(weblogs.HOSTING, "log_lines").fill(system=system,
                                                                         period=rule.period_text),
            # the purge removes the subject's own records; lines tied only by their address stay in
            # the workspace's copy of the log until it is imported again without them
            workspace="kept in the imported log (no name on these lines)"))
    if weblogs.has_analytics(ws):
        rule = register.retention_rules[register.activities_for(weblogs.ANALYTICS)[0].retention]
        rows.append(_check_row(subject_ids, weblogs.ANALYTICS, register.system_name(weblogs.ANALYTICS), rule,
                               record="events under the person's client id (only the person knows it)",
                               step=weblogs.rules().deletion_step,
                               workspace="nothing imported under the person's name"))
    return rows


def _check_row(subject_ids: list[str], service: str, system: str, rule: RetentionRule, *, record: str,
               step: str, workspace: str, action: str = "check", export_kind: str = "", file_name: str = "",
               reference: str = "", document_date: date | None = None,
               legal_reference: str = "Art. 17(1) GDPR") -> dict:
    """A row of the plan for what the analyst does in a service beyond the workspace's records."""
    return {"subject_id": ", ".join(subject_ids), "service": service, "system": system,
            "export_kind": export_kind, "record": record, "file_name": file_name, "import_id": None,
            "source_row": None, "reference": reference, "document_date": document_date, "action": action,
            "until": None, "rule": rule.key, "legal_reference": legal_reference, "step": step,
            "workspace": workspace, "_rule": rule}


# ------------------------------------------------------------------------------------------------
# the plan per field: what a kept record loses now, what it keeps, and until when

FIELD_ACTIONS = ("delete_now", "keep_restricted", "anonymise")
FIELD_PLAN_COLUMNS = ["subject_id", "service", "system", "export_kind", "import_id", "source_row", "record",
                      "column", "field", "category", "action", "until", "final_deletion", "rule", "reason"]


def _keeping_rule(register: Register, row: dict) -> RetentionRule | None:
    """The rule whose duty keeps (part of) a planned record: a retained document's own rule, or
    for a relation blocked until its bookings' date the system's document rule."""
    if row["action"] == "retain":
        return register.retention_rules[row["rule"]]
    if row["action"] == "anonymise" and row["until"] is not None and not pd.isna(row["until"]):
        return _document_rule(register, row["service"])
    return None


def _cells(ws: Workspace, records: pd.DataFrame) -> pd.DataFrame:
    """The filled cells (column, canonical field) of the given (import_id, source_row) records."""
    return ws.query(f"""
        SELECT r.import_id, r.source_row, c.name AS column, c.field
        FROM recs r JOIN {RAW_RECORDS_OF.format(rows="recs")} raw USING (import_id, source_row)
        JOIN columns c ON c.import_id = r.import_id
        WHERE coalesce(json_extract_string(raw.record, {JSON_PATH_SQL.format(name="c.name")}), '') <> ''
        ORDER BY r.import_id, r.source_row, c.position""", frames={"recs": records})


def field_plan(ws: Workspace, register: Register, frame: pd.DataFrame, *,
               today: date | None = None) -> pd.DataFrame:
    """Per personal field of every planned record: ``delete_now`` (the record goes, or it is kept
    but no retention rule needs this field: a BSN, birth date, gender, nationality or contact
    detail), ``keep_restricted`` (the rule's ``keeps`` in retention.toml needs it: kept, blocked
    for every other use, deleted on ``final_deletion``) or ``anonymise``. Cell values are never
    part of the plan, only column and field names."""
    today = today or date.today()
    records = frame[frame["import_id"].notna()]
    if records.empty:
        return pd.DataFrame(columns=FIELD_PLAN_COLUMNS)
    cells = _cells(ws, records[["import_id", "source_row"]].astype("int64").drop_duplicates())
    cells["category"] = [register.category_of(f) if isinstance(f, str) and f != "other" else None
                         for f in cells["field"]]
    personal = cells[cells["category"].notna()]
    by_record = {key: group for key, group in personal.groupby(["import_id", "source_row"])}
    rows = []
    for row in records.to_dict("records"):
        keeping = _keeping_rule(register, row)
        cells = by_record.get((int(row["import_id"]), int(row["source_row"])), pd.DataFrame())
        for cell in cells.itertuples():
            if keeping is None:
                action = "anonymise" if row["action"] == "anonymise" else "delete_now"
                until, reason = None, f"the record is not kept ({row['action']})"
            elif cell.field in keeping.keeps:
                action, until = "keep_restricted", row["until"]
                reason = f"needed under {keeping.key} ({keeping.legal_reference or keeping.name}); blocked"
            else:
                action, until = "delete_now", None
                reason = f"no retention rule needs it: not among the fields {keeping.key} keeps"
            rows.append({**{k: row[k] for k in ("subject_id", "service", "system", "export_kind", "import_id",
                                                "source_row", "record", "rule")},
                         "column": cell.column, "field": cell.field, "category": cell.category,
                         "action": action, "until": until, "final_deletion": until or today,
                         "reason": reason})
    return pd.DataFrame(rows, columns=FIELD_PLAN_COLUMNS)


def _minimise(frame: pd.DataFrame, fields: pd.DataFrame, today: date) -> pd.DataFrame:
    """Per planned record: the columns deleted now, the columns kept (blocked), the date of the
    final deletion; a kept record's step says what to empty now and that the rest is blocked."""
    def names(group: pd.DataFrame, action: str) -> str:
        return ", ".join(dict.fromkeys(group.loc[group["action"].eq(action), "column"]))

    grouped = {key: g for key, g in fields.groupby(["import_id", "source_row"])}
    delete_now, kept, final = [], [], []
    for row in frame.itertuples(index=False):
        group = grouped.get((row.import_id, row.source_row)) if not pd.isna(row.import_id) else None
        holds = row.action in ("retain", "anonymise") and row.until is not None and not pd.isna(row.until)
        delete_now.append(names(group, "delete_now") if group is not None else "")
        kept.append(names(group, "keep_restricted") if group is not None else "")
        final.append(row.until if holds else (None if row.action == "check" else today))
    frame = frame.assign(delete_now=delete_now, kept_fields=kept, final_deletion=final)
    minimised = frame["kept_fields"].ne("")
    frame.loc[minimised, "step"] = [
        f"{step}. Now: empty {gone or 'nothing else'}; block the rest ({keep}) for every use but the "
        f"legal duty (Art. 18(1)(b)); delete it on {until}"
        for step, gone, keep, until in zip(frame.loc[minimised, "step"], frame.loc[minimised, "delete_now"],
                                          frame.loc[minimised, "kept_fields"], frame.loc[minimised, "until"],
                                          strict=True)]
    return frame


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
            # the mailbox search names the person: it stays in the plan file, off the screen
            ref = f" [{row.reference}]" if row.reference and row.service != mail.SERVICE else ""
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
             files: dict[str, str] | None = None) -> trail.Entry:
    """The audit entry of a plan: request id, counts and file hashes only."""
    subjects = {s for value in frame["subject_id"] for s in str(value).split(", ")}
    return trail.record(ws, "plan", request_id=request_id, files=files,
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
    purge_id: str = ""
    restored: int = 0  # raw files re-stored without the subject's rows
    outputs_deleted: int = 0  # earlier packages and lists inside the workspace, deleted
    outputs_manual: list[str] = field(default_factory=list)  # ones outside it: the analyst deletes them
    already: bool = False  # an earlier run had carried it out (and this one finished it)

    def lines(self) -> list[str]:
        removed = ", ".join(f"{t} {n}" for t, n in self.removed.items())
        out = [f"purge {self.purge_id} of request {self.request_id} was carried out before; it is "
               "complete and in the audit log"] if self.already else []
        out += [f"purged {self.subjects} subject(s) from the workspace: removed {removed}",
               f"kept {self.held} record(s) under a legal retention duty, marked in retention_holds"
               + (f" (the last until {self.held_until})" if self.held_until else ""),
               "the database file was rewritten so the removed values do not linger in it"]
        if self.restored:
            out.append(f"{self.restored} raw export file(s) re-stored without the subject's rows (a new "
                       "SHA-256; raw_restored keeps the old hash and the reason)")
        if self.raw_files:
            rows = sum(self.raw_files.values())
            out.append(f"limit: {rows} row(s) of the subject remain as bytes in {len(self.raw_files)} "
                       "raw export file(s) whose format cannot be edited row by row (raw/<sha256>); "
                       "they are recorded in erased_raw_rows, no longer read, and go with the whole "
                       "file when its retention ends")
        if self.outputs_deleted:
            out.append(f"deleted {self.outputs_deleted} earlier package(s) or list(s) of the subject "
                       "inside the workspace")
        for path in self.outputs_manual:
            out.append(f"manual step: delete {path}, an earlier package or list of the subject the "
                       "workbench wrote outside the workspace")
        out.append("the source systems are unchanged: carry out the plan's steps there, before the "
                   "next import of those exports")
        return out


def purge(ws: Workspace, register: Register, subject_ids: list[str], request_id: str | None,
          today: date | None = None) -> PurgeResult:
    """Carry the erasure plan out inside the workspace (see the module docstring); a purge of the
    same request carried out before is finished if a kill interrupted it, and reported."""
    today = today or date.today()
    with ws.locked():
        done = purged(ws, request_id)
        if done is not None:
            return done
        return _purge(ws, register, subject_ids, request_id, today)


def _purge(ws: Workspace, register: Register, subject_ids: list[str], request_id: str | None,
           today: date) -> PurgeResult:
    frame = plan(ws, register, request_id, subject_ids=subject_ids, today=today)
    frames = _purge_frames(ws, frame, subject_ids, request_id, today)
    holds = frames["holds"]
    messages = mail.subject_messages(ws, subject_ids)[["import_id", "msg_no"]] if mail.imported(ws) else None
    purge_id = uuid.uuid4().hex[:16]
    journal = {"purge_id": purge_id, "request_id": request_id, "new_raw": []}
    _write_journal(ws, journal)
    with ws.transaction() as con:
        for name, value in frames.items():
            con.register(name, value)
        removed, raw = _remove_records(con)
        restored = _restore_raw(ws, con, journal, request_id, purge_id, today)  # reads the records
        removed["raw_records"] = con.execute("""
            DELETE FROM raw_rows r WHERE EXISTS (SELECT 1 FROM raw_gone g
                WHERE g.import_id = r.import_id AND g.source_row = r.source_row)""").fetchone()[0]
        con.execute("""INSERT INTO erased_raw_rows SELECT ?, import_id, stored_sha256, source_row, ?
                       FROM raw_gone""", [request_id, today])
        removed |= _forget_subjects(con)
        con.execute("INSERT INTO retention_holds BY NAME SELECT * FROM holds")
        if messages is not None:  # the mailbox's index; the mbox in raw/ is a limit, recorded
            removed.update(mail.purge(con, messages, request_id, today))
        left = raw[~raw["stored_sha256"].isin(restored)]
        raw_files = {sha: int(n) for sha, n in left.groupby("stored_sha256").size().items()}
        details = {"subjects": len(subject_ids), "removed": removed, "held": len(holds),
                   "held_until": max(holds["until"]) if len(holds) else None,
                   "raw_files": len(raw_files), "raw_rows_covered": int(sum(raw_files.values())),
                   "raw_restored": len(restored), "records": summary(frame)}
        con.execute("INSERT INTO purges VALUES (?, ?, ?, ?, ?, ?, false)",
                    [purge_id, request_id, list(subject_ids), today,
                     json.dumps(details, default=str), json.dumps(sorted(restored))])
        ws.mark_compact()  # a kill after the commit still gets the file rewritten
    result = _finish(ws, purge_id)
    result.plan = frame
    return result


def _purge_frames(ws: Workspace, frame: pd.DataFrame, subject_ids: list[str], request_id: str | None,
                  today: date) -> dict[str, pd.DataFrame]:
    """What the purge reads, by the names its statements use: the planned records that go
    (``gone``), the subjects' parties (``members``), the retention holds of the kept records
    (``holds``) and the subject ids (``sids``)."""
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
    return {"gone": gone, "members": members, "holds": holds,
            "sids": pd.DataFrame({"subject_id": list(subject_ids)})}


def _remove_records(con) -> tuple[dict[str, int], pd.DataFrame]:
    """Delete the subjects' versions of the records that go; the counts per table, and the raw
    records left without any party or document (registered as ``raw_gone``)."""
    removed = {}
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
    return removed, raw


def _forget_subjects(con) -> dict[str, int]:
    """Remove the subjects from the linkage tables; the counts per table."""
    # parties left without any version are gone: so are the analyst's decisions about them
    con.execute("""CREATE TEMP TABLE gone_parties AS SELECT DISTINCT m.* FROM members m
                   WHERE NOT EXISTS (SELECT 1 FROM party_versions p WHERE p.service = m.service
                       AND p.export_kind = m.export_kind AND p.party_key = m.party_key)""")
    removed = {"link_decisions": con.execute("""
        DELETE FROM link_decisions d WHERE EXISTS (SELECT 1 FROM gone_parties g WHERE
            (g.service = d.service_a AND g.export_kind = d.export_kind_a
             AND g.party_key = d.party_key_a)
         OR (g.service = d.service_b AND g.export_kind = d.export_kind_b
             AND g.party_key = d.party_key_b))""").fetchone()[0]}
    con.execute("DROP TABLE gone_parties")
    removed["link_candidates"] = con.execute("""
        DELETE FROM link_candidates WHERE subject_a IN (SELECT subject_id FROM sids)
           OR subject_b IN (SELECT subject_id FROM sids)""").fetchone()[0]
    removed["subjects"] = con.execute(
        "DELETE FROM subjects WHERE subject_id IN (SELECT subject_id FROM sids)").fetchone()[0]
    con.execute("DELETE FROM subject_lookup WHERE subject_id IN (SELECT subject_id FROM sids)")
    return removed


# ------------------------------------------------------------------------------------------------
# completing a purge: the journal, raw files, earlier outputs, compaction, the audit entry


def _write_journal(ws: Workspace, journal: dict) -> None:
    write_durably(ws.path / JOURNAL_NAME, json.dumps(journal, sort_keys=True).encode("ascii"))


def purged(ws: Workspace, request_id: str | None) -> PurgeResult | None:
    """The purge of this request when one was carried out (finished first if a kill interrupted
    it), else None."""
    if request_id is None or not ws.exists:
        return None
    with ws.locked():
        with ws.connect() as con:
            found = con.execute("SELECT purge_id FROM purges WHERE request_id = ? ORDER BY purged_on DESC "
                                "LIMIT 1", [request_id]).fetchall()
        if not found:
            return None
        result = _finish(ws, found[0][0])
    result.already = True
    return result


def resume(ws: Workspace) -> None:
    """Finish the purge a killed process left in the journal when its transaction committed, or
    roll it back (remove the raw files it had begun to write) when it did not."""
    path = ws.path / JOURNAL_NAME
    try:
        journal = json.loads(path.read_text("ascii"))
    except (OSError, ValueError):  # killed while the journal itself was written: nothing began
        path.unlink(missing_ok=True)
        return
    with ws.connect() as con:
        committed = con.execute("SELECT count(*) FROM purges WHERE purge_id = ?",
                                [journal.get("purge_id")]).fetchone()[0]
        referenced = {r[0] for r in con.execute("SELECT stored_sha256 FROM imports").fetchall()}
    if committed:
        _finish(ws, journal["purge_id"])
        return
    for sha in journal.get("new_raw", []):
        if sha not in referenced:
            (ws.raw_dir / sha).unlink(missing_ok=True)
    path.unlink(missing_ok=True)


on_recovery(JOURNAL_NAME, resume)


def _finish(ws: Workspace, purge_id: str) -> PurgeResult:
    """Everything after the purge's commit, each step safe to repeat: the old raw files go, the
    earlier outputs inside the workspace go, the database is rewritten, the audit entry is added
    once, and the journal is removed."""
    with ws.connect() as con:
        request_id, subjects, details, replaced, finished = con.execute(
            "SELECT request_id, subjects, details, replaced_raw, finished FROM purges WHERE purge_id = ?",
            [purge_id]).fetchone()
        referenced = {r[0] for r in con.execute("SELECT stored_sha256 FROM imports").fetchall()}
    details = json.loads(details)
    for sha in json.loads(replaced or "[]"):
        if sha not in referenced:
            (ws.raw_dir / sha).unlink(missing_ok=True)
    deleted, manual = _remove_outputs(ws, list(subjects))
    ws.compact()
    if not finished and not any(e.action == "purge" and e.details.get("purge_id") == purge_id
                                for e in trail.entries(ws)):
        trail.record(ws, "purge", request_id=request_id, details={
            "purge_id": purge_id, **details, "outputs_deleted": deleted, "outputs_manual": len(manual)})
    with ws.connect() as con:
        con.execute("UPDATE purges SET finished = true WHERE purge_id = ?", [purge_id])
    (ws.path / JOURNAL_NAME).unlink(missing_ok=True)
    until = details.get("held_until")
    return PurgeResult(request_id, details["subjects"], details["removed"], held=details["held"],
                       held_until=date.fromisoformat(until) if until else None,
                       raw_files={"": details["raw_rows_covered"]} if details["raw_files"] else {},
                       purge_id=purge_id, restored=details.get("raw_restored", 0),
                       outputs_deleted=deleted, outputs_manual=manual)


def _remove_outputs(ws: Workspace, subjects: list[str]) -> tuple[int, list[str]]:
    """Delete the earlier packages and lists of these subjects inside the workspace; list the ones
    outside it (the workbench does not delete files elsewhere on the machine)."""
    outputs = ws.outputs(subjects)
    deleted, manual, forget = 0, [], []
    for recorded in outputs["path"]:
        path = Path(recorded)
        if path.is_absolute():  # outside the workspace (inside ones are kept relative to it)
            if path.exists() or path.is_symlink():
                manual.append(str(path))
            continue
        path = ws.path / path
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        deleted += 1
        forget.append(recorded)
    ws.forget_outputs(forget)
    return deleted, manual


def _restore_raw(ws: Workspace, con, journal: dict, request_id: str | None, purge_id: str,
                 today: date) -> set[str]:
    """Re-store each raw file that held removed rows without those rows, under its new SHA-256;
    ``raw_restored`` keeps the old hash and the reason, ``raw_removed_rows`` the rows taken out (so
    a later erasure finds each row's place in the file). Returns the old hashes re-stored. A format
    that cannot be edited row by row (XML, XAF, MT940) is left as it is: the purge reports it."""
    # where each row is in the stored file now: earlier erasures took rows out before it
    gone = con.execute(f"""
        SELECT g.import_id, g.source_row, i.stored_sha256, r.record::VARCHAR AS record,
               g.source_row - (SELECT count(*) FROM raw_removed_rows x WHERE x.import_id = g.import_id
                               AND x.source_row < g.source_row) AS position
        FROM raw_gone g JOIN imports i USING (import_id)
        JOIN {RAW_RECORDS_OF.format(rows="raw_gone")} r USING (import_id, source_row)""").df()
    done: dict[str, str] = {}
    for old, rows in gone.groupby("stored_sha256"):
        source = ws.raw_dir / old
        if old in done or not source.is_file() or rows["import_id"].nunique() > 1:
            continue
        data = _without_rows(source.read_bytes(), {int(r): json.loads(t) for r, t in
                                                   zip(rows["position"], rows["record"], strict=True)})
        if data is None:
            continue
        con.executemany("INSERT INTO raw_removed_rows VALUES (?, ?)", [
            [int(i), int(r)] for i, r in zip(rows["import_id"], rows["source_row"], strict=True)])
        new = hashlib.sha256(data).hexdigest()
        journal["new_raw"].append(new)
        _write_journal(ws, journal)
        write_durably(ws.raw_dir / new, data)
        done[old] = new
    for old, new in done.items():
        con.execute("UPDATE imports SET stored_sha256 = ? WHERE stored_sha256 = ?", [new, old])
        con.execute("INSERT INTO raw_restored SELECT ?, ?, import_id, ?, ?, ?, ?, ? FROM imports "
                    "WHERE stored_sha256 = ?",
                    [request_id, purge_id, old, new, int((gone["stored_sha256"] == old).sum()),
                     "erasure: the subject's rows removed (Art. 17 GDPR)", today, new])
    return set(done)


def _without_rows(data: bytes, rows: dict[int, dict]) -> bytes | None:
    """The export's bytes without the given rows (as the import numbered them: the spreadsheet row
    of a CSV or XLSX file, 1 being the header; the position from 1 of a JSON dump's object), for
    CSV text, XLSX and JSON; None for another format (XML, XAF, MT940) or when a row does not hold
    the record it should: nothing is guessed."""
    if data[:4] == b"PK\x03\x04":
        return _xlsx_without(data, rows)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return _json_without(data, rows)
    return _csv_without(data, rows)


def _holds(values: list[str], record: dict) -> bool:
    """Whether a row's cells are the record the import read from it (most of its filled values)."""
    wanted = [v.strip() for v in record.values() if isinstance(v, str) and v.strip()]
    have = {v.strip() for v in values}
    return bool(wanted) and sum(v in have for v in wanted) >= 0.8 * len(wanted)


def _csv_without(data: bytes, rows: dict[int, dict]) -> bytes | None:
    encodings = ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=first.count)
    if not first.count(delimiter) or "\x00" in text or text.encode(encoding) != data:
        return None
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)
    taken: list[str] = []

    def feed():
        for line in lines:
            taken.append(line)
            yield line

    kept, found = [], 0
    try:
        for number, cells in enumerate(csv.reader(feed(), delimiter=delimiter), start=1):
            record, taken[:] = "".join(taken), []
            if number not in rows:
                kept.append(record)
            elif _holds(cells, rows[number]):
                found += 1
            else:
                return None
    except csv.Error:
        return None
    if found != len(rows):
        return None
    return ("".join(kept) + "".join(taken)).encode(encoding)


def _xlsx_without(data: bytes, rows: dict[int, dict]) -> bytes | None:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any damage means: not editable, left as it is
        return None
    sheet = book.worksheets[0]
    for number, record in rows.items():
        cells = [str(c.value) for c in sheet[number] if c.value is not None] \
            if number <= sheet.max_row else []
        if not _holds(cells, record):
            return None
    for number in sorted(rows, reverse=True):
        sheet.delete_rows(number)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _json_without(data: bytes, rows: dict[int, dict]) -> bytes | None:
    try:
        dump = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return None
    for objects in _json_lists(dump):
        if max(rows) > len(objects) or not all(
                _holds(_leaves(objects[n - 1]), record) for n, record in rows.items()):
            continue
        for number in sorted(rows, reverse=True):
            del objects[number - 1]
        return json.dumps(dump, ensure_ascii=False, indent=2).encode("utf-8")
    return None


def _json_lists(dump: object) -> list[list]:
    """The lists of objects a dump may keep its records in (as the importer finds them)."""
    if isinstance(dump, list):
        return [dump]
    if not isinstance(dump, dict):
        return []
    inner = dump.get("d")
    candidates = [inner.get("results")] if isinstance(inner, dict) else []
    candidates += list(dump.get("_embedded", {}).values()) if isinstance(dump.get("_embedded"), dict) else []
    candidates.append(dump.get("value"))
    return [c for c in candidates if isinstance(c, list)]


def _leaves(obj: object) -> list[str]:
    if isinstance(obj, dict):
        return [leaf for value in obj.values() for leaf in _leaves(value)]
    if isinstance(obj, list):
        return [json.dumps(obj, ensure_ascii=False)] + [leaf for value in obj for leaf in _leaves(value)]
    if isinstance(obj, bool):
        return [json.dumps(obj)]
    return [] if obj is None else [str(obj)]


def holds(ws: Workspace) -> pd.DataFrame:
    """Every retention hold: records kept under a legal duty after an erasure request."""
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
        rows.extend(_service_todo(register, request_type, str(service), group))
    if request_type == "objection":
        rows.extend(_unimported_objections(register, set(records["service"])))
    return pd.DataFrame(rows, columns=TODO_COLUMNS)


def _service_todo(register: Register, request_type: str, service: str,
                  group: pd.DataFrame) -> list[list[str]]:
    """The to-do rows of one service: per kind of record (profiles, documents) for rectification
    and restriction; per activity of the service for an objection."""
    system = register.system_name(service)
    if request_type == "objection":
        return [_objection_row(system, activity) for activity in register.activities_for(service)]
    bases = sorted({a.legal_basis for a in register.activities_for(service)})
    basis = "; ".join(LEGAL_BASES[b] for b in bases) or "not in the register"
    documents = group["is_document"].astype(bool)
    counts = {"profile": int((~documents).sum()), "document": int(documents.sum())}
    action = "rectify" if request_type == "rectification" else "restrict"
    return [[system, f"{count} {'client profile' if kind == 'profile' else 'document'} record(s)", basis,
             action, _todo_step(register, service, action, kind)]
            for kind, count in counts.items() if count]


def _todo_step(register: Register, service: str, action: str, kind: str) -> str:
    """The register's wording of rectifying or restricting a kind of record in a service."""
    system = register.system_name(service)
    where = register.steps.step(service, "record_where").fill(system=system)
    return register.steps.step(service, f"{action}_{kind}").fill(system=system, where=where)


def _unimported_objections(register: Register, imported: set[str]) -> list[list[str]]:
    """An objection also reaches the systems without an imported export: their processing of
    clients, visitors and prospects on legitimate interests."""
    return [_objection_row(system.name, activity)
            for key, system in register.systems.items() if key not in imported
            for activity in register.activities_for(key)
            if activity.legal_basis == "legitimate_interests"
            and set(activity.data_subjects) & {"customer", "visitor", "prospect"}]


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
