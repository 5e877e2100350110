"""The access and portability package (Art. 15 and Art. 20 GDPR) for one data subject.

:func:`write_package` writes a folder the analyst checks and sends:

``index.html`` / ``index.pdf``
    first the letter (:mod:`workbench.rights.letters`, template ``access.html.j2``, texts from
    ``config/letters/<lang>.toml``): plain Dutch or English, addressee, date, reference, every Art.
    15(1)(a)-(h) and 15(2)-(4) item, the result of the search in every client system (found, and
    then only the kinds of data found *there*; nothing found; or searched by hand, as recorded on
    the request), at most two A4 pages; then the annex "Dit weten wij over u" / "What we hold
    about you": the subject's values per system under readable labels. Self-contained (inline
    CSS, no external URLs); the PDF is made offline with WeasyPrint.
``data/<service>/<table>.csv|.json`` and ``data.xlsx``
    every source record of the subject with every original column, mapped or not, plus the
    file and row it came from; one sheet per table in the workbook. Only the subject's own
    records (:func:`workbench.datamap.export.subject_map`), never another subject's.
``mail/NNNN.eml`` and ``mail/index.csv``
    when a mailbox is imported (:mod:`workbench.datamap.mail`): each message from, to, cc or bcc the
    subject or naming them, as the ``.eml`` it was, and an index (date, from, to, cc, subject); the
    table ``data/mail/messages.csv`` adds each message's evidence and, in ``others``, the other
    people in it, which go on the redaction list.
``datapackage.json``
    a Frictionless Data Package in the letter's language describing every CSV: per field its
    type (numbers for amounts only: an identifier keeps its leading zeros), format, unit, time
    zone, meaning and fideslang data category.
``redactions.log``
    every third-party cell redacted (or kept, with the reason) by :func:`redact` / :func:`keep`:
    table, row, column, reason, never the value.
``manifest.json``
    every file with its SHA-256 and size, the request, the identities searched, the letter's date,
    whether it is a draft, and the search result per system.

The analyst's to-do list of third-party cells (:func:`third_party`) is written *beside* the
package (``<out>.redactions-todo.csv``), never in it; the package cannot be sent while a listed
cell is undecided (:func:`workbench.rights.letters.send`). A package that is not a draft is only written
for a registered request whose identity is verified and whose client systems are all searched;
``draft=True`` (always for an ad-hoc package) writes a watermarked draft.

With ``portability=True`` (Art. 20) only tables whose export kind serves an activity based on
consent or contract are included (``config/portability.toml``: no bookkeeping, no audit files),
and of those only the fields the person provided. Files are owner-only (0600, folders 0700) and
CSV/XLSX cells are safe against formula injection. ``zip=True`` adds ``<out>.zip``;
``encrypt=True`` makes it an AES-256 zip whose passphrase is returned once in the result and
stored nowhere, and no plain copy of the folder stays. Every package is recorded in the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd
from babel.numbers import format_decimal
from pydantic import ConfigDict

from workbench.audit import trail
from workbench.configuration import ConfigModel, Text, load
from workbench.datamap import linkage, mail, weblogs
from workbench.datamap.export import subject_map
from workbench.errors import WorkbenchError
from workbench.ingest.discovery import looks_like_name
from workbench.ingest.headers import CanonicalField
from workbench.ingest.model import FIELDS
from workbench.ingest.sources import ga4
from workbench.reference.register import Register
from workbench.rights import letters, requests
from workbench.store.safe_files import owner_only, safe_cell, sha256_file, write_csv, write_pdf, write_xlsx
from workbench.store.workspace import RAW_RECORDS_OF, Workspace

CLIENT_SUBJECTS = letters.CLIENT_SUBJECTS
PORTABLE_BASES = frozenset({"consent", "contract"})
SOURCE_COLUMNS = ("_source_file", "_source_row")
MANIFEST, DATAPACKAGE, TODO_SUFFIX, REDACTION_LOG = ("manifest.json", "datapackage.json",
                                                    ".redactions-todo.csv", "redactions.log")
TIMEZONE = "Europe/Amsterdam"  # the exports' local times carry no offset: the firm's own zone
FOUND, NOT_FOUND, EXCEPTION = "found", "not_found", "exception"


class PackageError(WorkbenchError):
    """A package that cannot be written or changed as asked."""


@dataclass(frozen=True)
class SystemStatus:
    """The result of the search in one system."""

    system: str
    name: str
    status: str  # found | not_found | exception
    records: dict[str, int] = field(default_factory=dict)  # table -> records of the subject
    reason: str = ""
    method: str = "automatic"  # or "manual": searched by hand and recorded on the request


@dataclass
class PackageResult:
    request_id: str
    out: Path
    files: list[Path]
    manifest: Path
    systems: list[SystemStatus]
    confirmation: bool
    zip_path: Path | None = None
    passphrase: str | None = field(default=None, repr=False)  # shown once, never stored
    warnings: list[str] = field(default_factory=list)
    draft: bool = False
    letter_date: dt.date | None = None
    letter_sha256: str = ""
    gaps: list[str] = field(default_factory=list)


@dataclass
class _Table:
    service: str
    export_kind: str
    name: str  # the table's file stem
    columns: list[str]
    fields: dict[str, str | None]  # original column -> canonical field (None: unmapped)
    rows: list[dict[str, str]]
    files: list[str]
    messages: list[dict] = field(default_factory=list)  # mail: where each row's message is kept

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"


# --------------------------------------------------------------------------------------------
# the package


def write_package(ws: Workspace, register: Register, *, subject_ids: list[str], out: Path,
                  request: dict | None = None, identities: dict[str, str], lang: str = "nl",
                  portability: bool = False, zip: bool = False, encrypt: bool = False,
                  pdf: bool = True, draft: bool = False, today: dt.date | None = None,
                  name: str | None = None) -> PackageResult:
    """Write the access (or, with ``portability``, the Art. 20) package of the subjects into the
    new folder ``out``. ``request`` is the register's request (id, type, received, due); without it
    the package is ad hoc, gets an id of its own and is a draft. ``identities`` are what was
    searched for (recorded in the manifest); ``name`` is the addressee. A package that is not a
    draft passes the gates of :func:`workbench.rights.letters.blockers` first (a registered request, a
    verified identity, every client system searched); the searches of the imported systems are
    recorded on the request, and the letter is registered on it."""
    out = _check_start(ws, subject_ids, Path(out), lang)
    today = today or dt.date.today()
    request = _request(request, subject_ids, identities, portability, today)
    draft = draft or bool(request.get("ad_hoc"))  # an ad-hoc package is in no register: never sent
    manual = {} if request.get("ad_hoc") else requests.searches(ws, request["id"])
    tables, statuses = _search(ws, register, subject_ids, manual, identities)
    if not draft:
        row, _, _ = requests.show(ws, request["id"])
        found = letters.blockers(ws, register, row, request["type"],
                                 systems={s.system: s.status for s in statuses if s.status != EXCEPTION})
        if found:
            raise PackageError(f"{request['id']}: the package cannot be written as final: " + "; ".join(found)
                               + " (or write a draft)")
    confirmation = any(s.status == FOUND for s in statuses)
    warnings = [*_undeclared(register, tables), *letters.gaps(register)]
    if portability:
        tables, statuses, left_out = _portable(tables, statuses, register)
        warnings += left_out
    warnings += _warnings(register, statuses)
    own = _own_names(ws, subject_ids)
    email = identities.get("e-mail") or identities.get("email")
    letter = _letter(register, request, lang, today, tables, statuses, confirmation, portability, draft,
                     name or request.get("name") or addressee(ws, subject_ids), email, own)

    # written in a temporary folder beside ``out``, logged, and only then moved into place: a
    # failed audit entry leaves no package
    stage = out.with_name(f".{out.name}.partial-{secrets.token_hex(4)}")
    with ws.staging(stage, stage.with_name(stage.name + ".zip")):
        result = _write_staged(ws, register, stage, out, subject_ids, request, identities, lang, today,
                               tables, statuses, confirmation, portability, letter, own, warnings,
                               zip, encrypt, pdf, draft)
    result.gaps = letters.gaps(register)
    if not request.get("ad_hoc"):
        _record_searches(ws, request, [] if draft else statuses, subject_ids, identities, today)
        result.letter_sha256 = letters.register_letter(ws, request["id"], request["type"], lang, today,
                                                       result.out / "index.html", draft)
    if encrypt and result.zip_path is not None:  # what goes out is the encrypted zip: no plain copy stays
        shutil.rmtree(result.out)
    return result


def _check_start(ws: Workspace, subject_ids: list[str], out: Path, lang: str) -> Path:
    """``out``, once the package can be written there: a known language, a subject, every import
    linked, and a new or empty folder."""
    letters.texts(lang)  # an unknown language stops here
    if not subject_ids:
        raise PackageError("no subject given: find the subject first (workbench find)")
    unlinked = linkage.imports_since_link(ws)
    if unlinked:  # their records belong to no subject yet: the package would miss them
        raise PackageError(f"{unlinked} import(s) came after the last link, so the subjects do not cover "
                           "their records yet: run 'workbench link' first")
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"{out} exists and is not empty: choose a new folder for the package")
    return out


def _record_searches(ws: Workspace, request: dict, statuses: list[SystemStatus], subject_ids: list[str],
                     identities: dict[str, str], today: dt.date) -> None:
    """The package's automatic searches, recorded on the request (a draft passes none: its search
    is done again for the final package)."""
    for s in statuses:
        if s.method == "automatic" and s.status in (FOUND, NOT_FOUND):
            requests.record_search(ws, request["id"], system=s.system, result=s.status, on=today,
                                   method="automatic", today=today,
                                   query=search_query(s.system, subject_ids, identities))


def _write_staged(ws, register, out, final, subject_ids, request, identities, lang, today, tables, statuses,
                  confirmation, portability, letter, own, warnings, zip, encrypt, pdf, draft):
    """The package written into ``out`` (a temporary folder), logged, then moved to ``final``."""
    with owner_only():
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        out.chmod(0o700)
        written = _write_data(out, tables)
        written += _write_mail(ws, out, tables)
        written.append(_write_datapackage(out, tables, register, request["id"], lang))
        check_datapackage(out)
        _write_todo(todo_path(final), tables, own)  # the analyst's list stays beside the package
        written.append(_write_text(out / "index.html", letter))
        if pdf:
            written.append(write_pdf(letter, out / "index.pdf"))
        manifest = _write_manifest(out, request, confirmation, portability, lang, trail.head(ws), {
            "identities": identities, "draft": draft, "letter_date": today.isoformat(),
            "received": request.get("received") or None,
            "searches": {s.system: s.status for s in statuses if s.status != EXCEPTION}})
    files = _hashes(out)
    zip_path = passphrase = None
    pending = len(redaction_todo(final))
    if pending:
        warnings.append(f"{pending} cell(s) listed in {todo_path(final).name}: redact or keep them (redact) "
                        "before sending" + ("; the archive was not made, make it with package.archive "
                                            "afterwards" if zip or encrypt else ""))
    elif zip or encrypt:  # never pack third parties' data into what goes out
        zip_path, passphrase = archive(out, encrypt=encrypt)
    audit_files = dict(files)
    if zip_path is not None:
        audit_files["archive.zip"] = sha256_file(zip_path)
    final_zip = final.with_name(final.name + ".zip") if zip_path is not None else None
    ws.remember_output("package", [final, todo_path(final), *([final_zip] if final_zip else [])],
                       request["id"], subject_ids)
    trail.record(ws, "package", request_id=request["id"], files=audit_files, details={
        "type": request["type"], "subjects": list(subject_ids), "lang": lang, "portability": portability,
        "encrypted": encrypt, "confirmation": confirmation,
        "systems": {s.system: s.status for s in statuses},
        "records": sum(len(t.rows) for t in tables)})
    if final.exists():
        final.rmdir()  # an empty folder the caller made: checked above
    os.rename(out, final)
    if zip_path is not None:
        os.replace(zip_path, final_zip)
    moved = [final / p.relative_to(out) for p in [*written, manifest]]
    return PackageResult(request_id=request["id"], out=final, files=moved[:-1], manifest=moved[-1],
                         systems=statuses, confirmation=confirmation, zip_path=final_zip,
                         passphrase=passphrase, warnings=warnings, draft=draft, letter_date=today)




def _request(request: dict | None, subject_ids: list[str], identities: dict[str, str],
             portability: bool, today: dt.date) -> dict:
    kind = "portability" if portability else "access"
    if request is None:
        seed = json.dumps([sorted(subject_ids), sorted(identities.items()), dt.datetime.now().isoformat()])
        short = hashlib.sha256(seed.encode()).hexdigest()[:8]
        return {"id": f"AD-HOC-{today:%Y%m%d}-{short}", "type": kind, "received": today.isoformat(),
                "due": "", "ad_hoc": True}
    missing = {"id"} - request.keys()
    if missing:
        raise PackageError("the request needs an id")
    return {"type": kind, "received": "", "due": "", **{k: v for k, v in request.items() if v is not None}}


# --------------------------------------------------------------------------------------------
# searching: the subject's records, table by table, and a status for every system


def _search(ws: Workspace, register: Register, subject_ids: list[str], manual: dict[str, dict],
            identities: dict[str, str] | None = None) -> tuple[list[_Table], list[SystemStatus]]:
    """The subject's tables and a status for every client system of the register and every
    imported one: found or not found by the workbench; for a system without an export, the search
    recorded by hand on the request (``manual``), or an exception ("unsearched") while there is none.
    The web server's log lines come with the evidence that ties them to the subject; Google
    Analytics is searched by the client id or user id in ``identities`` (``ga_client_id``,
    ``ga_user_id``), and without one its result says why it cannot be searched."""
    identities = identities or {}
    tied = weblogs.tied_lines(ws, subject_ids)
    analytics = weblogs.analytics_events(ws, client=identities.get("ga_client_id", ""),
                                         user=identities.get("ga_user_id", ""))
    cells = pd.concat([*(subject_map(ws, register, sid) for sid in subject_ids), weblogs.cells(tied),
                       analytics], ignore_index=True)
    imported = ws.query("SELECT DISTINCT service FROM imports ORDER BY service")["service"].tolist()
    systems = letters.client_systems(register) + [s for s in imported if s not in register.systems
                                                  or s == weblogs.ANALYTICS]  # visitors only, yet asked
    tables: list[_Table] = []
    statuses = []
    for system in dict.fromkeys(systems):
        name = register.systems[system].name if system in register.systems else system
        if system not in imported:
            done = manual.get(system)
            statuses.append(SystemStatus(system, name, done["result"], method="manual") if done
                            else SystemStatus(system, name, EXCEPTION, reason="unsearched"))
            continue
        try:
            found = (_mail_tables(ws, register, subject_ids) if system == mail.SERVICE
                     else _tables(ws, cells[cells.service.eq(system)]))
        except Exception as exc:  # noqa: BLE001 - one system's failure must show, not stop the rest
            statuses.append(SystemStatus(system, name, EXCEPTION, reason=f"{type(exc).__name__}: {exc}"))
            continue
        if system == weblogs.HOSTING and not tied.empty:
            found.append(_tie_table(tied))
        if system == weblogs.ANALYTICS:  # the id she gave is what makes these events hers
            for table in found:
                unmapped = {c: k for c, k in ga4.ONLINE_IDS.items() if table.fields.get(c, k) is None}
                table.fields.update(unmapped)
        tables.extend(found)
        counts = {t.key: len(t.rows) for t in found}
        reason = "" if system in register.systems else "not_in_register"
        if system == weblogs.ANALYTICS and not {"ga_client_id", "ga_user_id"} & identities.keys():
            reason = "pseudonymous"
        statuses.append(SystemStatus(system, name, FOUND if counts else NOT_FOUND, counts, reason))
    return tables, statuses


def search_query(system: str, subject_ids: list[str], identities: dict[str, str]) -> str:
    """What the automatic search of one system was done with, for the request register: the kinds
    of identifier and the subject ids, never the person's values."""
    subjects = ", ".join(subject_ids)
    if system == mail.SERVICE:
        return (f"messages from, to, cc or bcc the e-mail addresses of {subjects}, and bodies and "
                "attachments naming their name, phone number or IBAN")
    if system == weblogs.ANALYTICS:
        given = [k for k in ("ga_client_id", "ga_user_id") if k in identities]
        return (f"events of the {' and '.join(given)} the person gave" if given
                else "none: no client id or user id given, the events are pseudonymous")
    if system == weblogs.HOSTING:
        return f"log lines tied to {subjects} by a login, an order time or the same visit"
    return f"the records of {subjects}, linked across the systems on e-mail, IBAN, name and address"


def _tie_table(tied: pd.DataFrame) -> _Table:
    """Which log lines are the subject's and why: the evidence beside the log records."""
    columns = ["time", "ip", "request", "tie", "evidence"]
    rows = [{SOURCE_COLUMNS[0]: r.file_name, SOURCE_COLUMNS[1]: str(r.source_row),
             **{c: _text(str(getattr(r, c))) for c in columns}} for r in tied.itertuples()]
    return _Table(weblogs.HOSTING, "ip_evidence", "ip_evidence", [*SOURCE_COLUMNS, *columns],
                  {"time": None, "ip": "ip_address", "request": None, "tie": None, "evidence": None},
                  rows, list(dict.fromkeys(tied.file_name)))


def _tables(ws: Workspace, cells: pd.DataFrame) -> list[_Table]:
    """The subject's source records of one system, one table per export kind (split by file when
    one export kind has files of different columns), every original column kept."""
    if cells.empty:
        return []
    rows = cells[["file_sha256", "source_row"]].drop_duplicates()
    wanted = "(SELECT i.import_id, w.source_row FROM recs w JOIN imports i USING (file_sha256))"
    raw = ws.query(f"""
        SELECT i.import_id, i.service, i.export_kind, i.file_name, r.source_row, r.record::VARCHAR AS record
        FROM recs JOIN imports i USING (file_sha256)
        JOIN {RAW_RECORDS_OF.format(rows=wanted)} r
            ON r.import_id = i.import_id AND r.source_row = recs.source_row
        ORDER BY i.export_kind, i.import_id, r.source_row""", frames={"recs": rows})
    columns = ws.query("""SELECT import_id, name, nullif(field, 'other') AS field FROM columns
                          WHERE import_id IN (SELECT DISTINCT import_id FROM raw)
                          ORDER BY import_id, position""", frames={"raw": raw[["import_id"]]})
    layout = {i: list(zip(g["name"], g["field"], strict=True))
              for i, g in columns.groupby("import_id", sort=False)}
    tables = []
    for kind, group in raw.groupby("export_kind", sort=True):
        shapes: dict[tuple, list[int]] = defaultdict(list)
        for import_id in dict.fromkeys(group["import_id"]):
            shapes[tuple(n for n, _ in layout[import_id])].append(import_id)
        for shape, ids in shapes.items():
            part = group[group["import_id"].isin(ids)]
            name = kind if len(shapes) == 1 else f"{kind}_{_slug(Path(part['file_name'].iloc[0]).stem)}"
            records = []
            for row in part.itertuples(index=False):
                values = json.loads(row.record)
                records.append({SOURCE_COLUMNS[0]: row.file_name, SOURCE_COLUMNS[1]: str(row.source_row),
                                **{c: _text(values.get(c)) for c in shape}})
            fields = {n: (None if pd.isna(f) else f) for n, f in layout[ids[0]]}
            tables.append(_Table(str(part["service"].iloc[0]), str(kind), name, [*SOURCE_COLUMNS, *shape],
                                 fields, records, list(dict.fromkeys(part["file_name"]))))
    return tables


# Only the subject's own addresses are theirs: from, to and cc hold other people's too.
MAIL_FIELDS = {"own_addresses": "email", "others": "other_name"}
MAIL_COLUMNS = ["date", "from", "to", "cc", "bcc", "subject", "message_id", "thread", "labels",
                "attachments", "eml", "evidence", "own_addresses", "others"]


def _mail_tables(ws: Workspace, register: Register, subject_ids: list[str]) -> list[_Table]:
    """The subject's messages (:func:`workbench.datamap.mail.subject_messages`) as one table, each row
    with its evidence and the other people in it (the firm's own addresses aside), and the
    message itself written as ``mail/NNNN.eml``."""
    found = mail.subject_messages(ws, subject_ids)
    if found.empty:
        return []
    firm = register.controller.email.rpartition("@")[2].lower()
    rows, messages = [], []
    for number, row in enumerate(found.to_dict("records"), start=1):
        others = [a for a in row["others"].split("; ")
                  if a and (not firm or not a.rstrip(">").endswith("@" + firm))]
        values = {**row, "date": "" if pd.isna(row["date"]) else pd.Timestamp(row["date"]).isoformat(),
                  "eml": f"mail/{number:04d}.eml", "own_addresses": row["own"], "others": "; ".join(others)}
        rows.append({SOURCE_COLUMNS[0]: row["file"], SOURCE_COLUMNS[1]: str(row["msg_no"]),
                     **{c: _text(values[c]) for c in MAIL_COLUMNS}})
        messages.append({k: row[k] for k in ("file_sha256", "offset", "length")})
    kinds = ws.query("SELECT DISTINCT export_kind FROM imports WHERE service = ?", [mail.SERVICE])
    return [_Table(mail.SERVICE, ", ".join(kinds["export_kind"]), "messages",
                   [*SOURCE_COLUMNS, *MAIL_COLUMNS],
                   {c: MAIL_FIELDS.get(c) for c in MAIL_COLUMNS}, rows, list(dict.fromkeys(found["file"])),
                   messages)]


def _write_mail(ws: Workspace, out: Path, tables: list[_Table]) -> list[Path]:
    """Each found message as the ``.eml`` file it was, and ``mail/index.csv``: date, from, to, cc
    and subject of each, to read before opening them."""
    written = []
    for table in (t for t in tables if t.messages):
        folder = out / "mail"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for row, where in zip(table.rows, table.messages, strict=True):
            path = out / row["eml"]
            path.write_bytes(mail.message_bytes(ws, where))
            written.append(path)
        index = pd.DataFrame(table.rows)[["date", "from", "to", "cc", "subject", "eml"]]
        written.append(write_csv(index, folder / "index.csv"))
    return written


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "table"


@cache
def portability_rules() -> tuple[dict[str, str], frozenset[str]]:
    """The reviewed portability rules (config/portability.toml): export kind -> activity, and the
    canonical fields the person provided."""
    rules = load(Path(str(resources.files("workbench") / "config" / "portability.toml")), _Portability)
    return dict(rules.kinds), frozenset(rules.provided)


class _Portability(ConfigModel):
    """``portability.toml``: the canonical fields a person provides, and per export kind
    (``service/kind``) the activity it serves."""

    model_config = ConfigDict(strict=True)
    provided: list[CanonicalField]
    kinds: dict[str, Text]


def _portable(tables: list[_Table], statuses: list[SystemStatus],
              register: Register) -> tuple[list[_Table], list[SystemStatus], list[str]]:
    """Art. 20: only tables whose export kind serves an activity based on consent or contract (no
    bookkeeping, no audit files), and of those only the columns of fields the person provided."""
    kinds, provided = portability_rules()
    kept, notes = [], []
    for table in tables:
        activity = register.activities.get(kinds.get(f"{table.service}/{table.export_kind}", ""))
        if activity is None:
            notes.append(f"{table.service}/{table.export_kind}: no activity in portability.toml; left out of "
                         "the portability package")
            continue
        if activity.legal_basis not in PORTABLE_BASES:
            continue
        columns = [c for c in table.columns if c in SOURCE_COLUMNS or table.fields.get(c) in provided]
        kept.append(_Table(table.service, table.export_kind, table.name, columns,
                           {c: f for c, f in table.fields.items() if c in columns},
                           [{c: r[c] for c in columns} for r in table.rows], table.files))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for table in kept:
        counts[table.service][table.key] = len(table.rows)
    statuses = [s if s.status != FOUND or s.method == "manual"
                else SystemStatus(s.system, s.name, FOUND if counts[s.system] else NOT_FOUND,
                                  counts[s.system], "" if counts[s.system] else "not_portable")
                for s in statuses]
    return kept, statuses, notes


def _undeclared(register: Register, tables: list[_Table]) -> list[str]:
    """Data no activity of the system declares (a BSN, a birth date): for the officer; the client's
    letter still lists it truthfully."""
    found = set()
    for table in tables:
        for column, canonical in table.fields.items():
            category = register.category_of(canonical) if canonical else None
            known = table.service in register.systems
            if category and known and not register.declared(category, table.service) \
                    and any(r.get(column) for r in table.rows):
                found.add(f"{register.systems[table.service].name}: {category}")
    return [f"undeclared data ({item}): no activity of the register declares it" for item in sorted(found)]


def _warnings(register: Register, statuses: list[SystemStatus]) -> list[str]:
    """What the analyst must do before sending; no personal data."""
    notes = [f"{s.name}: not searched by the workbench; search it by hand before sending"
             for s in statuses if s.status == EXCEPTION and s.reason == "unsearched"]
    notes += [f"{s.name}: exception ({s.reason})" for s in statuses
              if s.status == EXCEPTION and s.reason != "unsearched"]
    held = {register.systems[s.system].processor for s in statuses
            if s.status != NOT_FOUND and s.system in register.systems}
    for key in sorted(held):
        p = register.processors[key]
        if p.outside_eea and p.transfer_safeguard == "unknown":
            notes.append(f"{p.name}: transfer outside the EEA without a known safeguard (register)")
    return notes


# --------------------------------------------------------------------------------------------
# writing the data


def _write_data(out: Path, tables: list[_Table]) -> list[Path]:
    written = []
    sheets: dict[str, pd.DataFrame] = {}
    for table in tables:
        frame = pd.DataFrame(table.rows, columns=table.columns, dtype=object)
        folder = out / "data" / table.service
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        written.append(write_csv(frame, folder / f"{table.name}.csv"))
        written.append(_write_text(folder / f"{table.name}.json", json.dumps({
            "system": table.service, "table": table.name, "export_kind": table.export_kind,
            "source_files": table.files, "columns": table.columns, "records": table.rows,
        }, ensure_ascii=False, indent=2)))
        sheets[_sheet_name(table, sheets)] = frame
    if sheets:
        written.append(write_xlsx(sheets, out / "data.xlsx"))
    for folder in [out / "data", *(out / "data").glob("*")] if (out / "data").exists() else []:
        folder.chmod(0o700)
    return written


def _sheet_name(table: _Table, taken: dict) -> str:
    base = f"{table.service}_{table.name}"[:31]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[:28]}_{n}"
    return name


def _sheets(tables: list[_Table]) -> dict[str, str]:
    taken: dict[str, str] = {}
    for table in tables:
        taken[_sheet_name(table, taken)] = table.key
    return {key: sheet for sheet, key in taken.items()}


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")
_DUTCH_DATE = re.compile(r"\d{2}-\d{2}-\d{4}")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DUTCH_NUMBER = re.compile(r"-?\d+(,\d+)?")


def _field_schema(canonical: str | None, values: list[str]) -> dict:
    """Type, format, unit and time zone of a column: numbers only for amounts (an identifier keeps
    its leading zeros as text), dates in the format the export uses."""
    filled = [v for v in values if v != ""]
    kind = FIELDS[canonical].type if canonical in FIELDS else "text"

    def every(pattern: re.Pattern) -> bool:
        return bool(filled) and all(pattern.fullmatch(v) for v in filled)

    if kind == "amount" and every(_NUMBER):
        return {"type": "number", "format": "default", "unit": "currency of the record", "timezone": None}
    if kind == "amount" and every(_DUTCH_NUMBER):
        return {"type": "number", "format": "default", "decimalChar": ",", "unit": "currency of the record",
                "timezone": None}
    if every(_DATE):
        return {"type": "date", "format": "%Y-%m-%d", "unit": None, "timezone": None}
    if every(_DUTCH_DATE):
        return {"type": "date", "format": "%d-%m-%Y", "unit": None, "timezone": None}
    if every(_DATETIME):
        return {"type": "string", "format": "default", "unit": None, "timezone": TIMEZONE}
    return {"type": "string", "format": "default", "unit": None, "timezone": None}


_DESCRIBE = {
    "nl": {"file": "Het exportbestand van het systeem waar deze vastlegging uit komt.",
           "row": "De regel (of plaats) van de vastlegging in dat bestand, vanaf 1.",
           "column": "Kolom '{column}' zoals {system} die exporteert",
           "field": "; betekenis: {label}", "category": "; soort gegevens: {label}",
           "title": "Persoonsgegevens, kenmerk {reference}"},
    "en": {"file": "The export file of the system this record comes from.",
           "row": "The record's row (or position) in that file, from 1.",
           "column": "Column '{column}' as exported by {system}",
           "field": "; meaning: {label}", "category": "; kind of data: {label}",
           "title": "Personal data, reference {reference}"},
}


def _write_datapackage(out: Path, tables: list[_Table], register: Register, request_id: str,
                       lang: str) -> Path:
    """A Frictionless Data Package in the letter's language: per column its type, format, unit,
    time zone, meaning and fideslang category."""
    words, labels, records = _DESCRIBE[lang], letters.texts(lang)["fields"], letters.texts(lang)["records"]
    resources_ = []
    sheets = _sheets(tables)
    for table in tables:
        system = register.systems.get(table.service)
        system_name = system.name if system else table.service
        fields = [{"name": SOURCE_COLUMNS[0], "type": "string", "format": "default", "unit": None,
                   "timezone": None, "category": None, "description": words["file"]},
                  {"name": SOURCE_COLUMNS[1], "type": "integer", "format": "default", "unit": None,
                   "timezone": None, "category": None, "description": words["row"]}]
        for column in table.columns[len(SOURCE_COLUMNS):]:
            canonical = table.fields.get(column)
            category = register.category_of(canonical) if canonical else None
            description = words["column"].format(column=column, system=system_name)
            if canonical in labels:
                description += words["field"].format(label=labels[canonical])
            if category in register.categories:
                found = register.categories[category]
                label = found.label_en if lang == "en" else found.label_nl
                description += words["category"].format(label=label)
            schema = _field_schema(canonical, [r[column] for r in table.rows])
            fields.append({"name": str(safe_cell(column)), **schema,
                           "description": description, "category": category, "field": canonical})
        resources_.append({
            "name": _slug(f"{table.service}-{table.name}").replace("_", "-"),
            "path": f"data/{table.service}/{table.name}.csv",
            "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8",
            "title": f"{system_name}: {records.get(table.export_kind, table.export_kind)}",
            "system": table.service, "processor": system.processor if system else None,
            "source_files": table.files, "json_path": f"data/{table.service}/{table.name}.json",
            "xlsx_sheet": sheets[table.key], "schema": {"fields": fields}})
    package = {"profile": "tabular-data-package", "name": _slug(request_id).replace("_", "-"),
               "title": words["title"].format(reference=request_id), "created": _now(), "language": lang,
               "resources": resources_}
    return _write_text(out / DATAPACKAGE, json.dumps(package, ensure_ascii=False, indent=2))


def check_datapackage(package: Path) -> None:
    """Refuse a package whose ``datapackage.json`` Frictionless does not accept: a descriptor off the
    Data Package standard, or data that does not match it (a missing file, a value of another type
    than its field says). The problems name resource, row and field, never a value."""
    import frictionless  # imported here: it takes a second to load, and only packages need it

    report = frictionless.validate(package / DATAPACKAGE)
    if report.valid:
        return
    found = [_problem(task.name, error) for task in report.tasks for error in task.errors]
    found += [_problem(None, error) for error in report.errors]
    raise PackageError(f"{package / DATAPACKAGE} does not describe the package: " + "; ".join(found[:10]))


def _problem(resource: str | None, error) -> str:
    """What is wrong and where; a row's note may quote the cell, so only a descriptor's is shown."""
    row = getattr(error, "row_number", None)
    where = [f"resource {resource}"] if resource else []
    where += [f"row {row}"] if row else []
    where += [f"field {error.field_name}"] if getattr(error, "field_name", None) else []
    note = "" if row else f": {error.note}"
    return f"{error.title}{note}" + (f" ({', '.join(where)})" if where else "")


# --------------------------------------------------------------------------------------------
# third-party data


_NAME_FIELDS = ("name", "given_name", "name_prefix", "family_name", "account_holder", "company", "initials")


def addressee(ws: Workspace, subject_ids: list[str]) -> str | None:
    """The name the subject's records give most often, to address the letter to."""
    parties = pd.concat([linkage.subject_parties(ws, s) for s in subject_ids], ignore_index=True)
    if parties.empty:
        return None
    found = ws.query("""SELECT coalesce(nullif(trim(p.name), ''), trim(concat_ws(' ', p.given_name,
                               p.name_prefix, p.family_name))) AS name
                        FROM parties p JOIN members m USING (service, export_kind, party_key)""",
                     frames={"members": parties[["service", "export_kind", "party_key"]]})
    names = found["name"].dropna()
    names = names[names.str.strip().ne("")]
    return None if names.empty else str(names.value_counts().index[0])


def _own_names(ws: Workspace, subject_ids: list[str]) -> list[tuple[str, str]]:
    """(given name, family core) of every name the subject's parties carry."""
    parties = pd.concat([linkage.subject_parties(ws, s) for s in subject_ids], ignore_index=True)
    if parties.empty:
        return []
    found = ws.query("""SELECT p.name, p.given_name, p.name_prefix, p.family_name, p.company
                        FROM parties p JOIN members m USING (service, export_kind, party_key)""",
                     frames={"members": parties[["service", "export_kind", "party_key"]]})
    names = set()
    for row in found.itertuples(index=False):
        full = " ".join(str(v) for v in (row.given_name, row.name_prefix, row.family_name)
                        if isinstance(v, str) and v.strip())
        for text in (row.name, full, row.company):
            if isinstance(text, str) and text.strip():
                given, family = linkage.split_name(text)
                names.add((given, linkage.family_core(family)))
    return sorted(names)


def _is_own(value: str, own: list[tuple[str, str]]) -> bool:
    given, family = linkage.split_name(value)
    family = linkage.family_core(family)
    return any(linkage.surnames_agree(family, f)
               and (not given or not g or linkage.given_names_agree(given, g)) for g, f in own)


def third_party(tables: list[_Table], own: list[tuple[str, str]]) -> list[dict]:
    """Cells that name someone other than the subject: fields of someone else (other_name,
    other_address), and names, descriptions and notes holding another person's name."""
    todo = []
    for table in tables:
        for number, row in enumerate(table.rows, start=1):
            for column, canonical in table.fields.items():
                value = row.get(column, "")
                if not value or column not in row:
                    continue
                reason = None
                if canonical in ("other_name", "other_address"):
                    if canonical == "other_address" or not _is_own(value, own):
                        reason = f"{canonical}: personal data of someone other than the subject"
                elif canonical in ("description", "notes", "name", "account_holder") \
                        and looks_like_name(value) and not _is_own(value, own):
                    reason = f"{canonical}: holds the name of a person other than the subject"
                if reason:
                    todo.append({"source": table.service, "table": table.key, "row": number,
                                 "column": column, "reason": reason})
    return todo


def todo_path(package: Path) -> Path:
    """The analyst's to-do list of third-party cells: beside the package, never in it."""
    package = Path(package)
    return package.with_name(package.name + TODO_SUFFIX)


def _write_todo(path: Path, tables: list[_Table], own: list[tuple[str, str]]) -> Path:
    frame = pd.DataFrame(third_party(tables, own), columns=["source", "table", "row", "column", "reason"])
    return write_csv(frame, path)


def redaction_todo(package: Path) -> list[dict]:
    """The cells of the to-do list the analyst has not decided on yet (:func:`redact`)."""
    path = todo_path(package)
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        todo = list(csv.DictReader(handle))
    decided = redaction_decisions(package)
    return [t for t in todo if (t["table"], int(t["row"]), t["column"]) not in decided]


def redaction_decisions(package: Path) -> set[tuple[str, int, str]]:
    """(table, row, column) of every cell redacted or kept, from the package's redaction log."""
    log = Path(package) / REDACTION_LOG
    if not log.exists():
        return set()
    entries = [json.loads(line) for line in log.read_text("utf-8").splitlines() if line.strip()]
    return {(e["table"], int(e["row"]), e["column"]) for e in entries}


# --------------------------------------------------------------------------------------------
# the cover letter


def _present(register: Register, tables: list[_Table]) -> dict[str, list[str]]:
    """Per system the data categories found filled in the subject's own records there."""
    present: dict[str, list[str]] = defaultdict(list)
    for table in tables:
        for column, canonical in table.fields.items():
            category = register.category_of(canonical) if canonical else None
            if category and any(r.get(column) for r in table.rows) and category not in present[table.service]:
                present[table.service].append(category)
    return present


def _result(t: dict, status: SystemStatus, categories: list[str]) -> str:
    """What the letter says one system's search found: the kinds of data, or nothing."""
    if status.status == FOUND:
        if status.method == "manual":
            return t["found_manual"]
        return t["found"].format(categories=", ".join(categories).capitalize())
    if status.status == NOT_FOUND:
        if status.reason == "not_portable":
            return t["not_portable"]
        return t["nothing_manual"] if status.method == "manual" else t["nothing"]
    return t["unsearched"]


def _letter(register: Register, request: dict, lang: str, today: dt.date, tables: list[_Table],
            statuses: list[SystemStatus], confirmation: bool, portability: bool, draft: bool,
            name: str | None, email: str | None, own: list[tuple[str, str]]) -> str:
    """The letter (Art. 15(1)(a)-(h), 15(2)-(4)) and its annex, from the template and the texts."""
    t = letters.texts(lang)
    a = t["access"]
    present = _present(register, tables)

    def label(key: str) -> str:
        category = register.categories[key]
        return (category.label_en if lang == "en" else category.label_nl).lower()

    found = [s.system for s in statuses if s.status == FOUND]
    activities = [x for x in register.activities.values() if set(x.systems) & set(found)
                  and CLIENT_SUBJECTS & set(x.data_subjects)]
    if portability:
        activities = [x for x in activities if x.legal_basis in PORTABLE_BASES]
    def keeper(system: str) -> str:
        if system not in register.systems:
            return ""
        processor = register.processors[register.systems[system].processor]
        role = "" if processor.role == "processor" else f"; {t['roles'].get(processor.role, '')}"
        return f"{processor.name} ({processor.country}{role})"

    retention = defaultdict(list)
    for system in found:
        for category in present.get(system, []):
            rule = register.retention_for(category, system)
            period = _period(rule, lang)
            if label(category) not in retention[period]:
                retention[period].append(label(category))
    abroad = [register.processors[k["key"]] for k in
              ({"key": register.systems[s].processor} for s in found if s in register.systems)
              if register.processors[k["key"]].outside_eea]
    context = letters.base_context(register, request, lang, today, draft, name, email)
    context.update({
        "confirmation": confirmation, "portability": portability,
        "searched": [{"system": s.name, "keeper": keeper(s.system),
                      "result": weblogs.pseudonymous_text(lang) if s.reason == "pseudonymous"
                      else _result(a, s, [label(c) for c in present.get(s.system, [])])}
                     for s in statuses],
        "purposes": [{"name": letters._activity_name(x, lang), "text": a["purpose_line"].format(
            purpose=x.purpose_en if lang == "en" else x.purpose_nl, basis=t["bases"][x.legal_basis])}
            for x in activities],
        "retention": [{"categories": ", ".join(c).capitalize(), "period": p} for p, c in retention.items()],
        "sources": [{"name": letters._activity_name(x, lang), "text": t["sources"].get(x.key, "")}
                    for x in activities],
        "transfers": [a["transfers_line"].format(name=p.name, country=p.country,
                                                 safeguard=t["safeguards"][p.transfer_safeguard])
                      for p in {p.name: p for p in abroad}.values()],  # a processor holds dicts: unhashable
        "annex": _annex(register, tables, t, own, lang),
    })
    return letters.render("access", context)


_SYSTEM_KEYS = frozenset({"party_key", "doc_key", "organisation_key"})  # the systems' own keys, not data


def _leaves(value: object) -> list[str]:
    """The texts inside a JSON value (an invoice's lines), without the systems' ids."""
    if isinstance(value, dict):
        return [v for k, sub in value.items() if not k.lower().endswith("id") for v in _leaves(sub)]
    if isinstance(value, list):
        return [v for sub in value for v in _leaves(sub)]
    return [] if value is None or value == "" else [str(value)]


def _shown(canonical: str, value: str, lang: str) -> str:
    """A value as the client reads it: dates written out, amounts with the language's separators,
    the texts of a JSON value rather than its syntax."""
    kind = FIELDS[canonical].type if canonical in FIELDS else "text"
    if value[:1] in "[{":
        try:
            return "; ".join(_leaves(json.loads(value)))
        except ValueError:
            return value
    try:
        if kind == "date":
            return letters.long_date(dt.date.fromisoformat(value[:10]), lang)
        if kind == "amount":
            return format_decimal(Decimal(value), format="#,##0.00",
                                  locale=letters.texts(lang)["meta"]["locale"])
    except (ValueError, ArithmeticError):
        pass  # shown as the system holds it
    return value


def _annex(register: Register, tables: list[_Table], t: dict, own: list[tuple[str, str]],
           lang: str) -> list[dict]:
    """Per system the subject's records with their filled values under readable labels (the
    fields the workbench knows; every column is in the data files); cells naming someone else
    are left out (Art. 15(4))."""
    flagged = {(item["table"], item["row"], item["column"]) for item in third_party(tables, own)}
    systems: dict[str, list[dict]] = defaultdict(list)
    for table in tables:
        title = t["records"].get(table.export_kind, t["records"]["party"])
        for number, row in enumerate(table.rows, start=1):
            items, others = {}, False
            for column in table.columns[len(SOURCE_COLUMNS):]:
                value, canonical = row.get(column, "").strip(), table.fields.get(column)
                if not value or value in ("[]", "{}", "null") or canonical not in t["fields"] \
                        or canonical in _SYSTEM_KEYS:
                    continue
                if (table.key, number, column) in flagged:
                    others = True
                    continue
                items.setdefault((t["fields"][canonical], _shown(canonical, value, lang)), None)
            if items:
                systems[table.service].append({"title": title, "items": list(items), "others": others})
    return [{"name": register.systems[k].name if k in register.systems else k, "records": records}
            for k, records in systems.items()]


# --------------------------------------------------------------------------------------------
# manifest, archive, redaction


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")



def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with owner_only():
        path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _hashes(package: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file of the package but the manifest itself."""
    return {p.relative_to(package).as_posix(): sha256_file(p) for p in sorted(package.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def _write_manifest(package: Path, request: dict | None = None, confirmation: bool | None = None,
                    portability: bool | None = None, lang: str | None = None,
                    audit_head: dict | None = None, extra: dict | None = None) -> Path:
    path = package / MANIFEST
    old = json.loads(path.read_text("utf-8")) if path.exists() else {}
    manifest = {
        "request_id": request["id"] if request else old.get("request_id"),
        "request_type": request["type"] if request else old.get("request_type"),
        "confirmation": confirmation if confirmation is not None else old.get("confirmation"),
        "portability": portability if portability is not None else old.get("portability"),
        "language": lang or old.get("language"),
        "created": old.get("created", _now()),
        "updated": _now(),
        "audit_head": audit_head or old.get("audit_head"),  # the log's head before this package
        **{k: old.get(k) for k in ("identities", "draft", "letter_date", "received", "searches") if k in old},
        **(extra or {}),
        "files": [{"path": name, "sha256": digest, "bytes": (package / name).stat().st_size}
                  for name, digest in _hashes(package).items()],
    }
    return _write_text(path, json.dumps(manifest, ensure_ascii=False, indent=2))


def archive(package: Path, *, encrypt: bool = False) -> tuple[Path, str | None]:
    """``<package>.zip`` of the package folder (owner-only); with ``encrypt`` an AES-256 zip whose
    random passphrase is returned, once: it is not stored anywhere."""
    import pyzipper

    package = Path(package)
    target = package.with_name(package.name + ".zip")
    passphrase = secrets.token_urlsafe(24) if encrypt else None
    files = sorted(p for p in package.rglob("*") if p.is_file())
    with owner_only():
        if target.exists():
            target.unlink()
        if encrypt:
            handle = pyzipper.AESZipFile(target, "w", compression=pyzipper.ZIP_DEFLATED,
                                         encryption=pyzipper.WZ_AES)
            handle.setpassword(passphrase.encode())
            handle.setencryption(pyzipper.WZ_AES, nbits=256)
        else:
            handle = pyzipper.ZipFile(target, "w", compression=pyzipper.ZIP_DEFLATED)
        with handle:
            for path in files:
                handle.write(path, path.relative_to(package).as_posix())
    target.chmod(0o600)
    return target, passphrase


def keep(package_dir: Path, table: str, row: int, column: str, reason: str) -> None:
    """Decide that a cell of the to-do list stays (it is the subject's own data), with the reason, in
    the redaction log; the cell is not changed."""
    package = Path(package_dir)
    if not reason.strip():
        raise PackageError("keeping a listed cell needs a reason")
    listed = {(t["table"], int(t["row"]), t["column"]) for t in redaction_todo(package)}
    if (table, row, column) not in listed:
        raise PackageError(f"table {table!r} row {row} column {column!r} is not on the to-do list")
    _log(package, {"timestamp": _now(), "decision": "kept", "table": table, "row": row, "column": column,
                   "reason": reason})
    _write_manifest(package)


def _log(package: Path, entry: dict) -> None:
    log = package / REDACTION_LOG
    with owner_only(), log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    log.chmod(0o600)


def redact(package_dir: Path, table: str, row: int, column: str, reason: str) -> None:
    """Blank one cell of the package (``table`` as in redactions_todo.csv, e.g.
    ``service/export_kind``; ``row`` from 1) in its CSV, JSON and XLSX sheet, log the
    redaction without the value in ``redactions.log`` and rewrite the manifest. Make the zip
    (:func:`archive`) after the last redaction."""
    package = Path(package_dir)
    resources = json.loads((package / DATAPACKAGE).read_text("utf-8"))["resources"]
    resource = next((r for r in resources if f"{r['system']}/{Path(r['path']).stem}" == table), None)
    if resource is None:
        raise PackageError(f"no table {table!r} in {package}")
    if column in SOURCE_COLUMNS:
        raise PackageError(f"{column} is the record's provenance, not data to redact")
    if not reason.strip():
        raise PackageError("a redaction needs a reason")

    data = json.loads((package / resource["json_path"]).read_text("utf-8"))
    if column not in data["columns"]:
        raise PackageError(f"table {table!r} has no column {column!r}")
    if not 1 <= row <= len(data["records"]):
        raise PackageError(f"table {table!r} has rows 1 to {len(data['records'])}, not {row}")
    data["records"][row - 1][column] = ""
    _write_text(package / resource["json_path"], json.dumps(data, ensure_ascii=False, indent=2))

    csv_path = package / resource["path"]
    with csv_path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    index = lines[0].index(str(safe_cell(column)))
    lines[row][index] = ""
    with owner_only(), csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator=os.linesep).writerows(lines)
    csv_path.chmod(0o600)

    workbook_path = package / "data.xlsx"
    if workbook_path.exists():
        from openpyxl import load_workbook

        workbook = load_workbook(workbook_path)
        sheet = workbook[resource["xlsx_sheet"]]
        header = [cell.value for cell in sheet[1]]
        sheet.cell(row=row + 1, column=header.index(str(safe_cell(column))) + 1).value = None
        with owner_only():
            workbook.save(workbook_path)
        workbook_path.chmod(0o600)

    _log(package, {"timestamp": _now(), "decision": "redacted", "table": table, "row": row,
                   "column": column, "reason": reason,
                   "files": [resource["path"], resource["json_path"], "data.xlsx"]})
    _write_manifest(package)


def subjects_for(ws: Workspace, email: str) -> list[str]:
    """The subject whose records hold exactly this e-mail address. When several do (partners
    sharing an address, a sole trader's business and private records) the analyst chooses: a
    wrong guess would put one person's data in another's package."""
    found = linkage.find(ws, email=email)
    exact = found[found.score >= 1.0]
    if len(exact) > 1:
        listed = "; ".join(f"{r.subject_id} ({r.systems})" for r in exact.itertuples())
        raise PackageError(f"{len(exact)} subjects hold this e-mail address: {listed}; "
                           "check them with 'workbench show' and name the subject(s) to answer for")
    return exact.subject_id.tolist()


def _period(rule, lang: str) -> str:
    """The retention period in the letter's language; a category the register gives no rule for
    says so (the analyst sees it among the warnings before sending)."""
    if rule is None:
        return letters.texts(lang)["access"]["retention_unknown"]
    return rule.period_text if lang == "en" else rule.period_nl or rule.period_text
