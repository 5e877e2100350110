"""The access and portability package (Art. 15 and Art. 20 GDPR) for one data subject.

:func:`write_package` writes a folder the analyst checks and sends:

``index.html`` / ``index.pdf``
    the cover letter in plain Dutch (or English): whether data is processed, every Art. 15(1)(a)-(h)
    and 15(2) item taken from the register, the request, the identities searched and the result
    of the search in every system that holds client data (found / not found / exception), so
    nothing is silently skipped. Self-contained (inline CSS, no external URLs); the PDF is made
    offline with WeasyPrint.
``data/<service>/<table>.csv|.json`` and ``data.xlsx``
    every source record of the subject with every original column, mapped or not, plus the
    file and row it came from; one sheet per table in the workbook. Only the subject's own
    records (:func:`workbench.datamap.subject_map`), never another subject's.
``datapackage.json``
    a Frictionless Data Package describing every CSV: field names, types, descriptions and the
    fideslang data category of each field (custom property ``category``).
``redactions_todo.csv``
    values inside the subject's records that name someone else, for the analyst to redact with
    :func:`redact` (source, table, row, column, reason; never the value itself).
``manifest.json``
    every file with its SHA-256 and size, the request id and the confirmation.

With ``portability=True`` (Art. 20) only tables of systems used by an activity whose legal basis
is consent or contract are included, without the firm's internal fields (notes, search codes).
Files are owner-only (0600, folders 0700) and CSV/XLSX cells are safe against formula injection.
``zip=True`` adds ``<out>.zip``; ``encrypt=True`` makes it an AES-256 zip whose passphrase is
returned once in the result and stored nowhere. Every package is recorded in the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import json
import os
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench import audit, linkage
from workbench.datamap import subject_map
from workbench.discovery import looks_like_name
from workbench.errors import WorkbenchError
from workbench.register import LEGAL_BASES, SAFEGUARDS, Register
from workbench.safe_files import owner_only, safe_cell, sha256_file, write_csv, write_pdf, write_xlsx
from workbench.workspace import Workspace

CLIENT_SUBJECTS = frozenset({"customer"})  # the data subjects a client request is about
PORTABLE_BASES = frozenset({"consent", "contract"})
INTERNAL_FIELDS = frozenset({"notes", "search_code"})  # written by the firm, not provided by the subject
SOURCE_COLUMNS = ("_source_file", "_source_row")
MANIFEST, DATAPACKAGE, TODO, REDACTION_LOG = ("manifest.json", "datapackage.json", "redactions_todo.csv",
                                             "redactions.log")
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


@dataclass
class _Table:
    service: str
    export_kind: str
    name: str  # the table's file stem
    columns: list[str]
    fields: dict[str, str | None]  # original column -> canonical field (None: unmapped)
    rows: list[dict[str, str]]
    files: list[str]

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"


# --------------------------------------------------------------------------------------------
# texts of the cover letter

TEXTS = {
    "nl": {
        "title": "Inzage in uw persoonsgegevens",
        "title_portability": "Uw persoonsgegevens om over te dragen",
        "request": "Uw verzoek", "request_id": "Kenmerk", "request_type": "Soort verzoek",
        "identities": "Gezocht op", "received": "Ontvangen op", "due": "Uiterste antwoorddatum",
        "sent": "Verzonden op", "language": "Taal van dit antwoord", "language_value": "Nederlands",
        "types": {"access": "inzage (art. 15 AVG)", "portability": "overdraagbaarheid (art. 20 AVG)"},
        "confirm_yes": "Ja: wij verwerken persoonsgegevens over u. Hieronder leest u welke, waarvoor, "
                       "bij wie ze liggen en hoe lang wij ze bewaren. Al uw gegevens zelf vindt u in de "
                       "bijgevoegde bestanden.",
        "confirm_no": "Nee: in de systemen die wij hebben doorzocht hebben wij geen persoonsgegevens over "
                      "u gevonden. Hieronder staat per systeem wat wij hebben gedaan.",
        "confirmation": "Verwerken wij uw gegevens?",
        "systems": "Waar wij hebben gezocht",
        "systems_intro": "Wij hebben elk systeem doorzocht waarin wij gegevens van klanten bewaren.",
        "th_system": "Systeem", "th_processor": "Verwerker", "th_result": "Resultaat",
        "th_details": "Toelichting",
        "status": {FOUND: "gevonden", NOT_FOUND: "niets gevonden", EXCEPTION: "uitzondering"},
        "records": "{n} record(s) in {table}",
        "purposes": "Waarvoor wij uw gegevens gebruiken",
        "th_activity": "Verwerking", "th_purpose": "Doel", "th_basis": "Grondslag",
        "th_retention": "Bewaartermijn", "th_source": "Herkomst",
        "bases": {"consent": "toestemming (art. 6 lid 1 onder a AVG)",
                  "contract": "uitvoering van de overeenkomst (art. 6 lid 1 onder b AVG)",
                  "legal_obligation": "wettelijke plicht (art. 6 lid 1 onder c AVG)",
                  "vital_interests": "vitaal belang (art. 6 lid 1 onder d AVG)",
                  "public_interest": "taak van algemeen belang (art. 6 lid 1 onder e AVG)",
                  "legitimate_interests": "gerechtvaardigd belang (art. 6 lid 1 onder f AVG)"},
        "categories": "Welke soorten gegevens wij van u hebben",
        "th_category": "Soort gegevens", "th_key": "Code", "th_systems": "In systeem",
        "recipients": "Wie uw gegevens ontvangt of voor ons bewaart",
        "recipients_intro": "Wij geven uw gegevens niet aan derden voor hun eigen doelen. Deze "
                            "verwerkers bewaren of verwerken ze in onze opdracht:",
        "th_country": "Land", "th_holds": "Wat zij van u bewaren", "th_role": "Rol",
        "roles": {"processor": "verwerker", "independent_controller": "zelfstandig verantwoordelijke",
                  "joint_controller": "gezamenlijk verantwoordelijke"},
        "outside_eea": "buiten de EER", "holds_unsearched": "niet automatisch doorzocht (zie hierboven)",
        "retention": "Hoe lang wij uw gegevens bewaren",
        "sources": "Waar uw gegevens vandaan komen",
        "th_table": "Tabel", "th_files": "Bestand(en)",
        "automated": "Geautomatiseerde besluiten en profilering",
        "automated_none": "Geen. Wij nemen geen besluiten over u die uitsluitend geautomatiseerd worden "
                          "genomen, en wij maken geen profiel van u (art. 22 AVG).",
        "automated_some": "Wel, bij deze verwerkingen:",
        "transfers": "Doorgifte buiten de Europese Economische Ruimte",
        "transfers_none": "Uw gegevens gaan niet naar landen buiten de EER.",
        "transfers_intro": "Deze verwerkers verwerken gegevens buiten de EER, met deze waarborg "
                           "(art. 15 lid 2 en art. 44-49 AVG):",
        "th_safeguard": "Waarborg",
        "safeguards": {"none": "geen doorgifte buiten de EER",
                       "adequacy": "adequaatheidsbesluit van de Europese Commissie (art. 45 AVG)",
                       "sccs": "standaardcontractbepalingen (art. 46 lid 2 onder c AVG)",
                       "bcrs": "bindende bedrijfsvoorschriften (art. 47 AVG)",
                       "art49": "uitzondering voor een specifieke situatie (art. 49 AVG)",
                       "unknown": "nog niet vastgesteld; wij zoeken dit uit en laten het u weten"},
        "rights": "Uw rechten",
        "rights_list": [
            "U mag onjuiste gegevens laten verbeteren of aanvullen (recht op rectificatie, art. 16 AVG).",
            "U mag ons vragen uw gegevens te wissen (recht op vergetelheid, art. 17 AVG). Gegevens die "
            "wij volgens de wet moeten bewaren, zoals facturen, wissen wij pas na afloop van de "
            "bewaartermijn.",
            "U mag ons vragen het gebruik van uw gegevens te beperken (recht op beperking, art. 18 AVG).",
            "U mag bezwaar maken tegen het gebruik van uw gegevens (recht van bezwaar, art. 21 AVG).",
            "U mag uw gegevens in een gangbaar, machineleesbaar formaat krijgen om aan een ander te geven "
            "(recht op overdraagbaarheid, art. 20 AVG).",
        ],
        "complaint": "Bent u het niet eens met hoe wij met uw gegevens omgaan? Dan mag u altijd een klacht "
                     "indienen bij de Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl).",
        "copy": "Dit pakket",
        "copy_free": "Deze eerste kopie van uw gegevens is kosteloos. U krijgt haar elektronisch, in "
                     "gangbare formaten: deze brief als HTML en PDF, uw gegevens als CSV, JSON en Excel.",
        "contents": [
            ("index.html, index.pdf", "deze brief"),
            ("data/<systeem>/<tabel>.csv en .json", "al uw records per systeem en tabel, met elke "
             "kolom zoals het systeem die heeft, en het bronbestand en de regel"),
            ("data.xlsx", "dezelfde tabellen in één Excel-bestand, een tabblad per tabel"),
            ("datapackage.json", "beschrijving van elke kolom: type, omschrijving en soort gegevens"),
            ("manifest.json", "elk bestand met zijn controlegetal (SHA-256), zodat u kunt nagaan dat "
             "niets is veranderd"),
        ],
        "third_party": "Staan in uw gegevens persoonsgegevens van anderen, dan maken wij die onleesbaar "
                       "voordat wij dit pakket versturen (art. 15 lid 4 AVG); elke verwijdering staat, "
                       "zonder de waarde, in redactions.log.",
        "portability": "Overdraagbaarheid (art. 20 AVG)",
        "portability_text": "Dit pakket bevat alleen gegevens die u zelf aan ons gaf of die wij bij het "
                            "uitvoeren van de overeenkomst over u vastlegden, uit verwerkingen op grond van "
                            "uw toestemming of de overeenkomst. Onze eigen interne aantekeningen en "
                            "zoekcodes zijn weggelaten. Het verzoek leidt niet vanzelf tot het wissen van "
                            "uw gegevens.",
        "included": "Meegenomen verwerkingen",
        "excluded": "Niet meegenomen (andere grondslag)",
        "contact": "Vragen?",
        "contact_text": "Neem contact op met {name}, {address}, {postcode} {city}, {email}, {phone}. "
                        "Noem daarbij het kenmerk {request_id}.",
        "none": "geen",
        "unsearched": "van dit systeem staat geen export in de workbench; de medewerker "
                             "doorzoekt het met de hand",
        "not_in_register": "dit systeem staat niet in ons verwerkingsregister",
        "portability_excluded": "niet meegenomen: geen verwerking op grond van toestemming of overeenkomst",
    },
    "en": {
        "title": "Access to your personal data",
        "title_portability": "Your personal data for transfer",
        "request": "Your request", "request_id": "Reference", "request_type": "Type of request",
        "identities": "Searched for", "received": "Received on", "due": "Reply due by",
        "sent": "Sent on", "language": "Language of this reply", "language_value": "English",
        "types": {"access": "access (Art. 15 GDPR)", "portability": "data portability (Art. 20 GDPR)"},
        "confirm_yes": "Yes: we process personal data about you. Below you can read which data, what for, "
                       "who holds it and how long we keep it. All the data itself is in the attached files.",
        "confirm_no": "No: in the systems we searched we found no personal data about you. Below is what "
                      "we did per system.",
        "confirmation": "Do we process your data?",
        "systems": "Where we searched",
        "systems_intro": "We searched every system in which we keep client data.",
        "th_system": "System", "th_processor": "Processor", "th_result": "Result",
        "th_details": "Details",
        "status": {FOUND: "found", NOT_FOUND: "nothing found", EXCEPTION: "exception"},
        "records": "{n} record(s) in {table}",
        "purposes": "What we use your data for",
        "th_activity": "Processing", "th_purpose": "Purpose", "th_basis": "Legal basis",
        "th_retention": "Retention", "th_source": "Source",
        "bases": {"consent": "consent (Art. 6(1)(a) GDPR)",
                  "contract": "performance of the contract (Art. 6(1)(b) GDPR)",
                  "legal_obligation": "legal obligation (Art. 6(1)(c) GDPR)",
                  "vital_interests": "vital interests (Art. 6(1)(d) GDPR)",
                  "public_interest": "task in the public interest (Art. 6(1)(e) GDPR)",
                  "legitimate_interests": "legitimate interests (Art. 6(1)(f) GDPR)"},
        "categories": "What kinds of data we hold about you",
        "th_category": "Kind of data", "th_key": "Code", "th_systems": "In system",
        "recipients": "Who receives or keeps your data for us",
        "recipients_intro": "We do not give your data to others for their own purposes. These "
                            "processors keep or process it on our behalf:",
        "th_country": "Country", "th_holds": "What they hold about you", "th_role": "Role",
        "roles": {"processor": "processor", "independent_controller": "independent controller",
                  "joint_controller": "joint controller"},
        "outside_eea": "outside the EEA", "holds_unsearched": "not searched automatically (see above)",
        "retention": "How long we keep your data",
        "sources": "Where your data comes from",
        "th_table": "Table", "th_files": "File(s)",
        "automated": "Automated decisions and profiling",
        "automated_none": "None. We take no decisions about you based solely on automated processing, "
                          "and we do not profile you (Art. 22 GDPR).",
        "automated_some": "Yes, in these processing activities:",
        "transfers": "Transfers outside the European Economic Area",
        "transfers_none": "Your data is not transferred to countries outside the EEA.",
        "transfers_intro": "These processors process data outside the EEA, with this safeguard "
                           "(Art. 15(2) and Art. 44-49 GDPR):",
        "th_safeguard": "Safeguard",
        "safeguards": dict(SAFEGUARDS, unknown="not yet established; we are looking into it and will "
                                               "let you know"),
        "rights": "Your rights",
        "rights_list": [
            "You may have inaccurate data corrected or completed (right to rectification, Art. 16 GDPR).",
            "You may ask us to erase your data (right to erasure, Art. 17 GDPR). Data the law obliges us "
            "to keep, such as invoices, is erased when its retention period ends.",
            "You may ask us to restrict the use of your data (right to restriction, Art. 18 GDPR).",
            "You may object to the use of your data (right to object, Art. 21 GDPR).",
            "You may receive your data in a common, machine-readable format to give to someone else "
            "(right to data portability, Art. 20 GDPR).",
        ],
        "complaint": "If you disagree with how we handle your data, you may always lodge a complaint with "
                     "the Dutch supervisory authority, the Autoriteit Persoonsgegevens "
                     "(autoriteitpersoonsgegevens.nl).",
        "copy": "This package",
        "copy_free": "This first copy of your data is free of charge. You receive it electronically, in "
                     "commonly used formats: this letter as HTML and PDF, your data as CSV, JSON and Excel.",
        "contents": [
            ("index.html, index.pdf", "this letter"),
            ("data/<system>/<table>.csv and .json", "all your records per system and table, with every "
             "column as the system holds it, and the source file and row"),
            ("data.xlsx", "the same tables in one Excel file, a sheet per table"),
            ("datapackage.json", "a description of every column: type, description and kind of data"),
            ("manifest.json", "every file with its checksum (SHA-256), so you can check nothing changed"),
        ],
        "third_party": "Where your data contains personal data of other people, we make it unreadable "
                       "before we send this package (Art. 15(4) GDPR); each removal is listed, without "
                       "the value, in redactions.log.",
        "portability": "Data portability (Art. 20 GDPR)",
        "portability_text": "This package holds only data you gave us or that we recorded about you while "
                            "performing the contract, from processing based on your consent or the "
                            "contract. Our own internal notes and search codes are left out. The request "
                            "does not by itself lead to erasure of your data.",
        "included": "Processing included",
        "excluded": "Not included (other legal basis)",
        "contact": "Questions?",
        "contact_text": "Contact {name}, {address}, {postcode} {city}, {email}, {phone}, quoting reference "
                        "{request_id}.",
        "none": "none",
        "unsearched": "the workbench holds no export of this system; staff search it by hand",
        "not_in_register": "this system is not in our record of processing activities",
        "portability_excluded": "not included: no processing based on consent or contract",
    },
}

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; color: #222; max-width: 60em;
       margin: 2em auto; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em;
     border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } .meta th { width: 30%; } code { font-size: 0.95em; }
.status-found { color: #1a6b1a; } .status-exception { color: #a15c00; }
@page { size: A4; margin: 18mm; }
"""


# --------------------------------------------------------------------------------------------
# the package


def write_package(ws: Workspace, register: Register, *, subject_ids: list[str], out: Path,
                  request: dict | None = None, identities: dict[str, str], lang: str = "nl",
                  portability: bool = False, zip: bool = False, encrypt: bool = False,
                  pdf: bool = True) -> PackageResult:
    """Write the access (or, with ``portability``, the Art. 20) package of the subjects into the
    new folder ``out``. ``request`` is the register's request (id, type, received, due); without it
    the package is ad hoc and gets an id of its own. ``identities`` are what was searched for, as
    the caller gives them; they are shown in the letter only."""
    if lang not in TEXTS:
        raise PackageError(f"language {lang!r} is not one of {sorted(TEXTS)}")
    if not subject_ids:
        raise PackageError("no subject given: find the subject first (workbench find)")
    unlinked = linkage.imports_since_link(ws)
    if unlinked:  # their records belong to no subject yet: the package would miss them
        raise PackageError(f"{unlinked} import(s) came after the last link, so the subjects do not cover "
                           "their records yet: run 'workbench link' first")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"{out} exists and is not empty: choose a new folder for the package")
    today = dt.date.today()
    request = _request(request, subject_ids, identities, portability, today)
    tables, statuses = _search(ws, register, subject_ids)
    confirmation = any(s.status == FOUND for s in statuses)
    included, excluded = _portable_activities(register) if portability else ([], [])
    if portability:
        tables, statuses = _portable(tables, statuses, register, TEXTS[lang])
    warnings = _warnings(register, statuses)

    with owner_only():
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        out.chmod(0o700)
        written = _write_data(out, tables)
        written.append(_write_datapackage(out, tables, register, request["id"], lang))
        written.append(_write_todo(out, tables, _own_names(ws, subject_ids)))
        letter = _letter(register, request, identities, lang, today, tables, statuses, confirmation,
                         portability, included, excluded)
        written.append(_write_text(out / "index.html", letter))
        if pdf:
            written.append(write_pdf(letter, out / "index.pdf"))
        manifest = _write_manifest(out, request, confirmation, portability, lang)
    files = _hashes(out)
    zip_path = passphrase = None
    pending = _pending_redactions(out)
    if pending:
        warnings.append(f"{pending} cell(s) listed in redactions_todo.csv: redact them (package.redact) "
                        "before sending" + ("; the archive was not made, make it with package.archive "
                                            "afterwards" if zip or encrypt else ""))
    elif zip or encrypt:  # never pack third parties' data into what goes out
        zip_path, passphrase = archive(out, encrypt=encrypt)
    audit_files = dict(files)
    if zip_path is not None:
        audit_files["archive.zip"] = sha256_file(zip_path)
    audit.record(ws, "package", request_id=request["id"], files=audit_files, details={
        "type": request["type"], "subjects": list(subject_ids), "lang": lang, "portability": portability,
        "encrypted": encrypt, "confirmation": confirmation,
        "systems": {s.system: s.status for s in statuses},
        "records": sum(len(t.rows) for t in tables)})
    return PackageResult(request_id=request["id"], out=out, files=[*written, manifest], manifest=manifest,
                         systems=statuses, confirmation=confirmation, zip_path=zip_path,
                         passphrase=passphrase, warnings=warnings)


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


def _client_systems(register: Register) -> list[str]:
    return [key for key in register.systems
            if any(CLIENT_SUBJECTS & set(a.data_subjects) for a in register.activities_for(key))]


def _search(ws: Workspace, register: Register, subject_ids: list[str]) -> tuple[list[_Table],
                                                                                  list[SystemStatus]]:
    cells = pd.concat([subject_map(ws, register, sid) for sid in subject_ids], ignore_index=True)
    imported = ws.query("SELECT DISTINCT service FROM imports ORDER BY service")["service"].tolist()
    systems = _client_systems(register) + [s for s in imported if s not in register.systems]
    tables: list[_Table] = []
    statuses = []
    for system in dict.fromkeys(systems):
        name = register.systems[system].name if system in register.systems else system
        if system not in imported:
            statuses.append(SystemStatus(system, name, EXCEPTION, reason="unsearched"))
            continue
        try:
            found = _tables(ws, cells[cells.service.eq(system)])
        except Exception as exc:  # noqa: BLE001 - one system's failure must show, not stop the rest
            statuses.append(SystemStatus(system, name, EXCEPTION, reason=f"{type(exc).__name__}: {exc}"))
            continue
        tables.extend(found)
        counts = {t.key: len(t.rows) for t in found}
        reason = "" if system in register.systems else "not_in_register"
        statuses.append(SystemStatus(system, name, FOUND if counts else NOT_FOUND, counts, reason))
    return tables, statuses


def _tables(ws: Workspace, cells: pd.DataFrame) -> list[_Table]:
    """The subject's source records of one system, one table per export kind (split by file when
    one export kind has files of different columns), every original column kept."""
    if cells.empty:
        return []
    rows = cells[["file_sha256", "source_row"]].drop_duplicates()
    raw = ws.query("""
        SELECT i.import_id, i.service, i.export_kind, i.file_name, r.source_row, r.record::VARCHAR AS record
        FROM recs JOIN imports i USING (file_sha256)
        JOIN raw_records r ON r.import_id = i.import_id AND r.source_row = recs.source_row
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


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "table"


def _portable_activities(register: Register) -> tuple[list, list]:
    acts = list(register.activities.values())
    return ([a for a in acts if a.legal_basis in PORTABLE_BASES],
            [a for a in acts if a.legal_basis not in PORTABLE_BASES])


def _portable(tables: list[_Table], statuses: list[SystemStatus], register: Register,
              texts: dict) -> tuple[list[_Table], list[SystemStatus]]:
    """Only tables of systems with a consent or contract activity, without internal fields."""
    def qualifies(system: str) -> bool:
        return any(a.legal_basis in PORTABLE_BASES for a in register.activities_for(system))

    kept = []
    for table in tables:
        if not qualifies(table.service):
            continue
        drop = {c for c, f in table.fields.items() if f in INTERNAL_FIELDS}
        columns = [c for c in table.columns if c not in drop]
        kept.append(_Table(table.service, table.export_kind, table.name, columns,
                           {c: f for c, f in table.fields.items() if c not in drop},
                           [{c: r[c] for c in columns} for r in table.rows], table.files))
    statuses = [s if qualifies(s.system) or s.status != FOUND
                else SystemStatus(s.system, s.name, s.status, s.records, "portability_excluded")
                for s in statuses]
    return kept, statuses


def _warnings(register: Register, statuses: list[SystemStatus]) -> list[str]:
    """What the analyst must do before sending; no personal data."""
    notes = [f"{s.name}: not searched by the workbench; search it by hand before sending"
             for s in statuses if s.status == EXCEPTION and s.reason == "unsearched"]
    notes += [f"{s.name}: exception ({s.reason})" for s in statuses
              if s.status == EXCEPTION and s.reason != "unsearched"]
    for key in _involved_processors(register, statuses):
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


def _field_type(values: list[str]) -> tuple[str, str | None]:
    filled = [v for v in values if v != ""]
    if not filled:
        return "string", None
    checks = [("date", r"\d{4}-\d{2}-\d{2}"), ("datetime", r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?.*"),
              ("integer", r"-?(0|[1-9]\d*)"), ("number", r"-?(0|[1-9]\d*)\.\d+")]
    for kind, pattern in checks:
        if all(re.fullmatch(pattern, v) for v in filled):
            return kind, None
    return "string", None


def _write_datapackage(out: Path, tables: list[_Table], register: Register, request_id: str,
                       lang: str) -> Path:
    resources = []
    sheets = _sheets(tables)
    for table in tables:
        system = register.systems.get(table.service)
        fields = []
        for column in table.columns:
            kind, _ = _field_type([r[column] for r in table.rows])
            if column == SOURCE_COLUMNS[0]:
                fields.append({"name": column, "type": "string", "category": None,
                               "description": "The export file of the system this record comes from."})
                continue
            if column == SOURCE_COLUMNS[1]:
                fields.append({"name": column, "type": "integer", "category": None,
                               "description": "The record's row (or position) in that file, from 1."})
                continue
            canonical = table.fields.get(column)
            category = register.category_of(canonical) if canonical else None
            label = register.categories[category].label_en if category in register.categories else None
            description = f"Column '{column}' as exported by {system.name if system else table.service}"
            description += f"; canonical field '{canonical}'" if canonical else \
                "; not mapped to a canonical field"
            description += f"; data category: {label} ({category})" if category else \
                "; no personal-data category of its own (part of the record)"
            fields.append({"name": str(safe_cell(column)), "type": kind, "description": description,
                           "category": category})
        resources.append({
            "name": f"{table.service}/{table.name}".lower(), "path": f"data/{table.service}/{table.name}.csv",
            "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "title": f"{system.name if system else table.service}: {table.export_kind}",
            "system": table.service, "processor": system.processor if system else None,
            "source_files": table.files, "json_path": f"data/{table.service}/{table.name}.json",
            "xlsx_sheet": sheets[table.key], "schema": {"fields": fields}})
    package = {"profile": "tabular-data-package", "name": _slug(request_id).replace("_", "-"),
               "title": f"Personal data package {request_id}", "created": _now(), "language": lang,
               "resources": resources}
    return _write_text(out / DATAPACKAGE, json.dumps(package, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------------------------
# third-party data


_NAME_FIELDS = ("name", "given_name", "name_prefix", "family_name", "account_holder", "company", "initials")


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


def _write_todo(out: Path, tables: list[_Table], own: list[tuple[str, str]]) -> Path:
    frame = pd.DataFrame(third_party(tables, own), columns=["source", "table", "row", "column", "reason"])
    return write_csv(frame, out / TODO)


# --------------------------------------------------------------------------------------------
# the cover letter


def _involved_systems(statuses: list[SystemStatus]) -> list[str]:
    """Systems that hold or may hold the subject's data: found, or not searched automatically."""
    return [s.system for s in statuses if s.status in (FOUND, EXCEPTION)]


def _involved_processors(register: Register, statuses: list[SystemStatus]) -> list[str]:
    systems = set(_involved_systems(statuses))
    keys = [k for a in register.activities.values() if systems & set(a.systems) for k in a.recipients]
    keys += [k for k, p in register.processors.items() if systems & set(p.systems)]
    return [k for k in dict.fromkeys(keys) if k in register.processors]


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _rows(cells: list[list[object]], header: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _letter(register: Register, request: dict, identities: dict[str, str], lang: str, today: dt.date,
            tables: list[_Table], statuses: list[SystemStatus], confirmation: bool, portability: bool,
            included: list, excluded: list) -> str:
    t = TEXTS[lang]
    c = register.controller

    def label(key: str) -> str:
        category = register.categories.get(key)
        return key if category is None else category.label_en if lang == "en" else category.label_nl

    involved = _involved_systems(statuses)
    found = {s.system for s in statuses if s.status == FOUND}
    sysname = {key: s.name for key, s in register.systems.items()}

    # categories present in the data, per system
    present: dict[str, set[str]] = defaultdict(set)
    for table in tables:
        for column, canonical in table.fields.items():
            category = register.category_of(canonical) if canonical else None
            if category and any(r.get(column) for r in table.rows):
                present[category].add(table.service)

    parts = [f"<h1>{_e(t['title_portability'] if portability else t['title'])}</h1>",
             f"<p>{_e(c.name)} &middot; {_e(c.address)}, {_e(c.postcode)} {_e(c.city)} &middot; "
             f"{_e(c.email)}</p>"]
    kind = t["types"].get(request["type"], request["type"])
    searched = "; ".join(f"{k}: {v}" for k, v in identities.items()) or t["none"]
    meta = [(t["request_id"], request["id"]), (t["request_type"], kind), (t["identities"], searched),
            (t["received"], request.get("received", "")), (t["due"], request.get("due", "")),
            (t["sent"], today.isoformat()), (t["language"], t["language_value"])]
    parts.append(f'<section id="request"><h2>{_e(t["request"])}</h2><table class="meta">'
                 + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in meta)
                 + "</table></section>")
    parts.append(f'<section id="confirmation" data-confirmation="{str(confirmation).lower()}">'
                 f'<h2>{_e(t["confirmation"])}</h2>'
                 f'<p>{_e(t["confirm_yes"] if confirmation else t["confirm_no"])}</p></section>')

    # A15-03: every system
    rows = []
    for s in statuses:
        processor = register.systems[s.system].processor if s.system in register.systems else ""
        pname = register.processors[processor].name if processor in register.processors else ""
        details = "<br>".join(_e(t["records"].format(n=n, table=k)) for k, n in s.records.items())
        if s.reason:
            details = "<br>".join(filter(None, [details, _e(t.get(s.reason, s.reason))]))
        rows.append([_e(s.name), _e(pname), f'<span class="status-{s.status}">{_e(t["status"][s.status])}'
                     f"</span> <code>{s.status}</code>", details])
    parts.append(f'<section id="systems"><h2>{_e(t["systems"])}</h2><p>{_e(t["systems_intro"])}</p>'
                 + _rows(rows, [t["th_system"], t["th_processor"], t["th_result"], t["th_details"]])
                 + "</section>")

    # A15-04 purposes, legal basis, retention, source per activity
    activities = [a for a in register.activities.values() if set(a.systems) & set(involved)]
    if portability:
        activities = [a for a in activities if a.legal_basis in PORTABLE_BASES]
    rows = [[_e(a.name_en if lang == "en" else a.name_nl), _e(a.purpose_en if lang == "en" else a.purpose_nl),
             _e(t["bases"].get(a.legal_basis, LEGAL_BASES.get(a.legal_basis, a.legal_basis))),
             _e(_period(register.retention_rules[a.retention], lang)),
             _e(", ".join(sysname.get(s, s) for s in a.systems))]
            for a in activities]
    parts.append(f'<section id="purposes"><h2>{_e(t["purposes"])}</h2>'
                 + _rows(rows, [t["th_activity"], t["th_purpose"], t["th_basis"], t["th_retention"],
                                t["th_systems"]]) + "</section>")

    # A15-05 categories, A15-07 retention per category
    rows = [[_e(label(k)), f"<code>{_e(k)}</code>", _e(", ".join(sysname.get(s, s) for s in sorted(v)))]
            for k, v in sorted(present.items())]
    parts.append(f'<section id="categories"><h2>{_e(t["categories"])}</h2>'
                 + _rows(rows, [t["th_category"], t["th_key"], t["th_systems"]]) + "</section>")
    rows = []
    for k, systems in sorted(present.items()):
        for s in sorted(systems):
            rule = register.retention_for(k, s)
            rows.append([_e(label(k)), _e(sysname.get(s, s)), _e(_period(rule, lang))])
    parts.append(f'<section id="retention"><h2>{_e(t["retention"])}</h2>'
                 + _rows(rows, [t["th_category"], t["th_system"], t["th_retention"]]) + "</section>")

    # A15-06 recipients and what each holds
    rows = []
    for key in _involved_processors(register, statuses):
        p = register.processors[key]
        systems = set(p.systems) | {s for a in register.activities.values() if key in a.recipients
                                    for s in a.systems}
        holds = sorted({label(k) for k, v in present.items() if v & systems & found})
        unsearched = [sysname.get(s, s) for s in involved if s in systems and s not in found]
        what = ", ".join(holds)
        if unsearched:
            what = "; ".join(filter(None, [what, f"{', '.join(unsearched)}: {t['holds_unsearched']}"]))
        country = p.country + (f" ({t['outside_eea']})" if p.outside_eea else "")
        rows.append([_e(p.name), _e(t["roles"].get(p.role, p.role)), _e(country), _e(what or t["none"])])
    parts.append(f'<section id="recipients"><h2>{_e(t["recipients"])}</h2><p>{_e(t["recipients_intro"])}</p>'
                 + _rows(rows, [t["th_processor"], t["th_role"], t["th_country"], t["th_holds"]])
                 + "</section>")

    # A15-10 sources: per table the system, files and the activity's source
    rows = []
    for table in tables:
        sources = "; ".join(dict.fromkeys(a.source for a in register.activities_for(table.service)))
        rows.append([_e(sysname.get(table.service, table.service)), f"<code>{_e(table.key)}</code>",
                     _e(", ".join(table.files)), _e(sources)])
    parts.append(f'<section id="sources"><h2>{_e(t["sources"])}</h2>'
                 + _rows(rows, [t["th_system"], t["th_table"], t["th_files"], t["th_source"]]) + "</section>")

    # A15-11 automated decisions
    automated = [a for a in activities if a.automated_decisions.strip().lower() not in ("none", "")]
    text = f"<p>{_e(t['automated_none'])}</p>" if not automated else \
        f"<p>{_e(t['automated_some'])}</p><ul>" + "".join(
            f"<li>{_e(a.name_en if lang == 'en' else a.name_nl)}: {_e(a.automated_decisions)}</li>"
            for a in automated) + "</ul>"
    parts.append(f'<section id="automated"><h2>{_e(t["automated"])}</h2>{text}</section>')

    # A15-12 transfers outside the EEA
    abroad = [register.processors[k] for k in _involved_processors(register, statuses)
              if register.processors[k].outside_eea]
    if abroad:
        rows = [[_e(p.name), _e(p.country),
                 _e(t["safeguards"].get(p.transfer_safeguard, p.transfer_safeguard))
                 + (f"<br><small>{_e(p.transfer_note)}</small>" if p.transfer_note and lang == "en" else "")]
                for p in abroad]
        text = f"<p>{_e(t['transfers_intro'])}</p>" + _rows(rows, [t["th_processor"], t["th_country"],
                                                                   t["th_safeguard"]])
    else:
        text = f"<p>{_e(t['transfers_none'])}</p>"
    parts.append(f'<section id="transfers"><h2>{_e(t["transfers"])}</h2>{text}</section>')

    if portability:
        def item(a) -> str:
            return f"<li>{_e(a.name_en if lang == 'en' else a.name_nl)}: {_e(t['bases'][a.legal_basis])}</li>"

        inc, exc = "".join(map(item, included)), "".join(map(item, excluded))
        parts.append(f'<section id="portability"><h2>{_e(t["portability"])}</h2>'
                     f'<p>{_e(t["portability_text"])}</p><h3>{_e(t["included"])}</h3><ul>{inc}</ul>'
                     f'<h3>{_e(t["excluded"])}</h3><ul>{exc}</ul></section>')

    # A15-08, A15-09 rights and complaint
    parts.append(f'<section id="rights"><h2>{_e(t["rights"])}</h2><ul>'
                 + "".join(f"<li>{_e(r)}</li>" for r in t["rights_list"])
                 + f'</ul><p id="complaint">{_e(t["complaint"])}</p></section>')

    # A15-13, A15-14, A15-16 the package itself
    contents = "".join(f"<li><code>{_e(f)}</code>: {_e(d)}</li>" for f, d in t["contents"])
    parts.append(f'<section id="copy"><h2>{_e(t["copy"])}</h2><p>{_e(t["copy_free"])}</p><ul>{contents}</ul>'
                 f'<p>{_e(t["third_party"])}</p></section>')
    parts.append(f'<section id="contact"><h2>{_e(t["contact"])}</h2><p>'
                 + _e(t["contact_text"].format(name=c.name, address=c.address, postcode=c.postcode,
                                               city=c.city, email=c.email, phone=c.phone,
                                               request_id=request["id"]))
                 + "</p></section>")
    title = _e(t["title_portability"] if portability else t["title"])
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title} - '
            f"{_e(request['id'])}</title><style>{_CSS}</style></head><body>\n" + "\n".join(parts)
            + "\n</body></html>\n")


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
                    portability: bool | None = None, lang: str | None = None) -> Path:
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


def redact(package_dir: Path, table: str, row: int, column: str, reason: str) -> None:
    """Blank one cell of the package (``table`` as in redactions_todo.csv, e.g.
    ``exact/api_sales_invoices``; ``row`` from 1) in its CSV, JSON and XLSX sheet, log the
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

    entry = {"timestamp": _now(), "table": table, "row": row, "column": column, "reason": reason,
             "files": [resource["path"], resource["json_path"], "data.xlsx"]}
    log = package / REDACTION_LOG
    with owner_only(), log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    log.chmod(0o600)
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
                           "check them with 'workbench show' and choose with --subject")
    return exact.subject_id.tolist()


def _period(rule, lang: str) -> str:
    """The retention period in the letter's language; a category the register gives no rule for
    says so (the analyst sees it among the warnings before sending)."""
    if rule is None:
        return "not set in our register yet" if lang == "en" else "nog niet vastgelegd in ons register"
    return rule.period_text if lang == "en" else rule.period_nl or rule.period_text


def _pending_redactions(out: Path) -> int:
    """How many cells the analyst still has to look at before the package may be sent."""
    todo = out / "redactions_todo.csv"
    if not todo.exists():
        return 0
    with todo.open(encoding="utf-8") as handle:
        return max(sum(1 for _ in handle) - 1, 0)
