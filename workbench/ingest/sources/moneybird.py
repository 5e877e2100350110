"""MoneyBird, the online invoicing and bookkeeping package.

Exports read here (MoneyBird web app unless said otherwise):

* contacts export: tab *Contacten* > button *Exporteren*; an Excel workbook with one row per
  contact (MoneyBird's help centre suggests re-saving it as CSV, which Dutch Excel writes with
  ``;``). Its column names were never published, so they are matched by synonyms inferred
  from the contact form and the API (see ``config/headers/moneybird.toml``);
* sales invoices export: the *Facturen* list > *Exporteren*, Excel or CSV (menu and columns
  inferred: MoneyBird documents only the contacts export); one row per invoice, pointing at
  the contact by its customer number;
* API dumps: ``GET /api/v2/<administration>/contacts.json``, ``.../sales_invoices.json``,
  ``.../external_sales_invoices.json``, ``.../financial_mutations.json`` and a sales invoice's
  payments saved as JSON (a list of objects, or one object). A
  contact's ``contact_people`` become parties of their own that belong to the contact; a sales
  invoice carries a snapshot of its contact, and its ``contact_person`` is another person named
  on the invoice; a financial mutation (a bank line) names the counterparty
  (``contra_account_name``, ``contra_account_number``), who is its party. A contact with a
  company name, KvK or VAT number is an organisation;
* XAF auditfile: *Rapporteren* > *Resultatenrekening* > export as auditfile (XAF 3.2, per a
  third-party guide), the tax office's audit file with the relations and journal lines;
  recognised as MoneyBird's only when its ``header/softwareDesc`` names MoneyBird.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from workbench.errors import InputError
from workbench.ingest import headers
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common, _xaf

SERVICE = "moneybird"
API_CONTACTS = ExportKind(SERVICE, "api_contacts", "MoneyBird API contacts (JSON dump)")
API_SALES_INVOICES = ExportKind(SERVICE, "api_sales_invoices",
                                "MoneyBird API sales invoices (JSON dump)")
XAF = ExportKind(SERVICE, "xaf", "MoneyBird XAF auditfile")
# the other API objects read here; their field names are reviewed data
_API = _common.api_fields("moneybird_api.toml")
API_FINANCIAL_MUTATIONS, API_PAYMENTS, API_EXTERNAL_SALES_INVOICES = (
    ExportKind(SERVICE, f"api_{name}", _API[name]["title"])
    for name in ("financial_mutations", "payments", "external_sales_invoices"))
_API_KINDS = (API_CONTACTS, API_SALES_INVOICES, API_FINANCIAL_MUTATIONS, API_PAYMENTS,
              API_EXTERNAL_SALES_INVOICES)
KINDS: list[ExportKind] = [t.kind for t in headers.tables(SERVICE)] + [*_API_KINDS, XAF]
FORMATS: dict[str, tuple[str, ...]] = {t.kind.name: t.formats for t in headers.tables(SERVICE)} | {
    **{k.name: ("json",) for k in _API_KINDS}, XAF.name: ("xml",)}

# Keys that only MoneyBird's API objects have together (verified in picqer Contact.php and
# SalesInvoice.php); FactuurSturen's and Exact's API names differ.
_CONTACT_KEYS = {"send_invoices_to_email", "sepa_iban_account_name", "send_estimates_to_email",
                 "contact_people"}
_INVOICE_KEYS = {"total_price_incl_tax", "total_unpaid", "invoice_sequence_id", "details"}
# A contact person (API ``contact_people[]``): developer.moneybird.com/api/contacts.
_PERSON_FIELDS = {"id": "party_key", "firstname": "given_name", "lastname": "family_name",
                  "phone": "phone", "email": "email", "department": "job_title"}
_PERSON_OTHER = {"contact_id", "administration_id", "created_at", "updated_at", "version"}
PERSON = "contact_people."
_INVOICE_PERSON = "contact_person"  # see [contact_person] in config/headers/moneybird_api.toml


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    loaded = _common.load(path)
    if loaded.format in ("csv", "xlsx"):
        return _common.table_kind(loaded, SERVICE, mappings)
    if loaded.format == "json":
        return _json_kind(_common.json_records(loaded, "contacts", "sales_invoices"))
    # An auditfile that does not name its package is left to the user (--source moneybird/xaf).
    if _xaf.is_xaf(loaded) and "moneybird" in _xaf.software(loaded).lower():
        return XAF
    return None


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "MoneyBird", KINDS, FORMATS, mappings,
                                   mismatch="a {upper} file is not a {title}")
    if kind == XAF:
        return _xaf.read(loaded, XAF)
    if kind in _API_KINDS:
        records = _common.json_records(loaded, "contacts", "sales_invoices")
        if _json_kind(records) != kind:
            raise InputError(path, f"not a {kind.title}",
                             expected="a JSON list of MoneyBird API objects as GET /contacts.json, "
                             "/sales_invoices.json, /external_sales_invoices.json or "
                             "/financial_mutations.json returns them")
        if kind in (API_FINANCIAL_MUTATIONS, API_PAYMENTS):
            return _api_documents(loaded, records, kind)
        contacts = _table("contacts", mappings)
        if kind == API_CONTACTS:
            return _api_contacts(loaded, records, contacts)
        if kind == API_EXTERNAL_SALES_INVOICES:
            names = _API["external_sales_invoices"]["names"]
            return _api_sales_invoices(loaded, records, kind, names.get, contacts)
        table = _table("sales_invoices", mappings)
        return _api_sales_invoices(loaded, records, kind, lambda c: table.column_map([c])[c], contacts)
    table = _common.table_for(kind, mappings)
    extract = _common.read_tabular(loaded, table, doc_type="invoice" if kind.name == "sales_invoices" else "")
    extract.parties["party_type"] = _organisations(extract.parties)["party_type"]
    return extract


def _json_kind(records: list[dict] | None) -> ExportKind | None:
    if not records:
        return None
    keys = set().union(*(r.keys() for r in records))
    if "customer_id" in keys and keys & _CONTACT_KEYS:
        return API_CONTACTS
    if {"invoice_id", "contact_id"} <= keys and keys & _INVOICE_KEYS:
        return API_SALES_INVOICES
    kinds = {"financial_mutations": API_FINANCIAL_MUTATIONS, "payments": API_PAYMENTS,
             "external_sales_invoices": API_EXTERNAL_SALES_INVOICES}
    return next((kind for name, kind in kinds.items() if set(_API[name]["needed"]) <= keys), None)


def _table(name: str, mappings: headers.MappingsLike) -> headers.HeaderTable:
    """A tabular export's header table; it also names the API's fields, so the JSON dumps are
    mapped with it."""
    return next(t for t in headers.tables(SERVICE, mappings) if t.kind.name == name)


def _api_contacts(loaded: _common.Loaded, records: list[dict], table: headers.HeaderTable) -> Extract:
    """Contacts and, right after each, its contact people, one raw row each."""
    rows, owners = [], []
    for record in records:
        people = record.get("contact_people")
        people = people if isinstance(people, list) and all(isinstance(p, dict) for p in people) else []
        contact = {k: v for k, v in record.items() if not (k == "contact_people" and people)}
        rows.append({"record": "contact", **contact})
        owners.append("")
        rows += [{"record": "contact_person", "contact_people": p} for p in people]
        owners += [str(record.get("customer_id") or "").strip()] * len(people)
    raw = _common.flatten(rows)
    column_map = {c: _person_field(c) if c.startswith(PERSON) else table.column_map([c])[c]
                  for c in raw.columns}
    column_map["record"] = headers.KNOWN_WITHOUT_FIELD
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    if "notes" in canon.columns:
        canon["notes"] = _notes([r.get("notes") for r in rows], canon["notes"])
    # A contact is keyed by its customer number (as in the other exports), a person by its id;
    # the person belongs to the contact whose customer number keys that contact's party.
    number = canon.get("customer_number", pd.Series("", index=raw.index, dtype="str"))
    canon["party_key"] = canon.get("party_key", number).where(lambda k: k.ne(""), number)
    canon["organisation_key"] = pd.Series(owners, index=raw.index, dtype="str")
    canon = _organisations(canon, raw["record"].eq("contact"))
    parties, documents = _common.split(canon)
    return _common.finish(API_CONTACTS, raw, parties, documents, column_map)


def _person_field(column: str) -> str | None:
    leaf = column.removeprefix(PERSON)
    if leaf in _PERSON_FIELDS:
        return _PERSON_FIELDS[leaf]
    return headers.KNOWN_WITHOUT_FIELD if leaf in _PERSON_OTHER else None


def _api_sales_invoices(loaded: _common.Loaded, records: list[dict], kind: ExportKind,
                        field_of: Callable[[str], str | None], contacts: headers.HeaderTable) -> Extract:
    """Invoices with their contact snapshot (``contact.*``) as the party; the description is
    the text of the invoice lines, or of the notes when there are no lines."""
    raw = _common.flatten(records)
    column_map = {c: _snapshot_field(c, contacts) if c.startswith("contact.")
                  else _invoice_person_field(c) if c.startswith(_INVOICE_PERSON)
                  else field_of(c) for c in raw.columns}
    canon = _organisations(_common.canonical_frame(raw, column_map, loaded.path))
    if "notes" in canon.columns:
        snapshots = [r.get("contact") if isinstance(r.get("contact"), dict) else {} for r in records]
        canon["notes"] = _notes([c.get("notes") for c in snapshots], canon["notes"])
    if "description" in canon.columns:
        lines = pd.Series([_texts(r.get("details"), "description") for r in records], index=raw.index)
        notes = pd.Series([_texts(r.get("notes"), "note") for r in records], index=raw.index)
        canon["description"] = lines.where(lines.ne(""), notes).astype("str")
    parties, documents = _common.split(canon, "invoice")
    return _common.finish(kind, raw, parties, documents, column_map)


def _invoice_person_field(column: str) -> str | None:
    if column in (_INVOICE_PERSON, f"{_INVOICE_PERSON}_id"):  # the id, or the person null
        return headers.KNOWN_WITHOUT_FIELD
    return _API[_INVOICE_PERSON]["names"].get(column.removeprefix(f"{_INVOICE_PERSON}."))


def _organisations(canon: pd.DataFrame, contacts: pd.Series | None = None) -> pd.DataFrame:
    """A contact with a company name, KvK or VAT number is an organisation, also when a
    person's name is filled in next to it (MoneyBird's attention-of name); ``contacts`` says
    which rows are contacts (a contact person is always a person)."""
    business = (_common.column(canon, "company").ne("") | _common.column(canon, "kvk_number").ne("")
                | _common.column(canon, "vat_number").ne(""))
    if contacts is not None:
        business &= contacts
    kinds = _common.party_type(canon)
    return canon.assign(party_type=kinds.mask(business, "organisation"))


def _api_documents(loaded: _common.Loaded, records: list[dict], kind: ExportKind) -> Extract:
    """Bank lines with their counterparty (holder name and account) as the party, or payments
    (which name nobody)."""
    raw = _common.flatten(records)
    names = _API[kind.name.removeprefix("api_")]["names"]
    column_map = {c: names.get(c) for c in raw.columns}
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    doc_type = "bank_line" if kind == API_FINANCIAL_MUTATIONS else "payment"
    parties, documents = _common.split(canon, doc_type)
    return _common.finish(kind, raw, parties, documents, column_map)


def _snapshot_field(column: str, contacts: headers.HeaderTable) -> str | None:
    leaf = column.removeprefix("contact.")
    if leaf == "id":  # the contact's API id; its customer number keys the party
        return headers.KNOWN_WITHOUT_FIELD
    return contacts.column_map([leaf])[leaf]


def _notes(values: list[object], mapped: pd.Series) -> pd.Series:
    """The text of API note objects (``[{"note": ...}]``); a plain text note stays as it is."""
    texts = pd.Series([_texts(v, "note") for v in values], index=mapped.index, dtype="str")
    listed = pd.Series([isinstance(v, list) for v in values], index=mapped.index)
    return texts.where(listed, mapped)


def _texts(items: object, key: str) -> str:
    """One text from a list of API objects (invoice lines, notes), joined."""
    if not isinstance(items, list):
        return ""
    texts = [str(i.get(key) or "").strip() for i in items if isinstance(i, dict)]
    return "; ".join(t for t in texts if t)
