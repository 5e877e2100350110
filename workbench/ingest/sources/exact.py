"""Exact Online, the accounting package.

Exports read here (menu paths from third-party guides where said, otherwise inferred):

* relations list (*Relaties*): the CRM relations overview, exported with the list's export
  button (CSV or Excel; inferred path). One row per relation (customer, supplier, prospect).
  Exact writes list views as UTF-16 with a BOM, TAB-separated, with a decimal comma,
  DD-MM-YYYY dates, headers in the user's UI language with a linked field's sub-field glued to
  its caption (``LandCode``), and relation codes padded with leading spaces to 18 characters;
* contact persons list (*Contactpersonen*): the CRM contact persons overview, exported the
  same way; one row per person at a relation, linked to it by the glued ``RelatieCode``
  column. A BSN typed into a contact's *Sofinummer* field ends up here;
* eExact XML: Import/Export > XML, topic *Relaties* (``Accounts/Account`` with its
  ``Contact``, ``Address`` and ``BankAccount`` elements) or *Verkoopfacturen*
  (``Invoices/Invoice``), per Exact's schema eExact-XML.xsd; one raw row per account, per
  contact and per invoice (column ``record``);
* XAF 3.2 auditfile: Financial > Audit > XAF Audit File (vectel.nl guide), read by the shared
  XAF reader and claimed for Exact only when its ``softwareDesc`` names Exact;
* JSON dumps of the REST API as an integration or a consultant pulls them: ``crm/Accounts``,
  ``crm/Contacts``, ``salesinvoice/SalesInvoices`` (and their lines), ``salesorder/SalesOrders``,
  ``crm/Quotations``, ``financialtransaction/BankEntries`` (and their lines) and
  ``financialtransaction/TransactionLines``; a plain list, the OData ``{"d": {"results": [...]}}``
  wrapper or one entity ``{"d": {...}}``, dates as ``/Date(ms)/``; lines pulled with ``$expand``
  become records of their own. A contact's ``Account`` is its relation's ``ID``, so REST
  relations are keyed by ``ID``. The field names per entity are reviewed data
  (``config/headers/exact_api.toml``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element

import pandas as pd

from workbench.errors import InputError
from workbench.ingest import headers
from workbench.ingest.model import FIELDS, ExportKind, Extract
from workbench.ingest.sources import _common, _xaf, _xml

SERVICE = "exact"
OTHER = headers.KNOWN_WITHOUT_FIELD

XML = ExportKind(SERVICE, "xml", "Exact Online eExact XML export (Accounts, Invoices)")
XAF = ExportKind(SERVICE, "xaf", "Exact Online XAF 3.2 auditfile")

# --------------------------------------------------------------------------------------------
# REST entities: the field names are reviewed data; a name not listed stays in raw and shows as
# unmapped.


@dataclass(frozen=True)
class _Entity:
    """How one REST entity maps (``config/headers/exact_api.toml``)."""

    kind: ExportKind
    odata_type: str
    needed: frozenset[str]
    some: frozenset[str]
    doc_type: str
    fields: dict[str, str]  # name -> canonical field or "other"
    expanded_in: str  # the key another entity carries these under as its $expand-ed lines


def _entities() -> dict[str, _Entity]:
    out = {}
    for name, table in _common.api_fields("exact_api.toml").items():
        kind = ExportKind(SERVICE, f"api_{name}", table["title"])
        out[kind.name] = _Entity(kind, table.get("odata_type", ""), frozenset(table["needed"]),
                                 frozenset(table.get("some", [])), table["doc_type"], table["names"],
                                 table.get("expanded_in", ""))
    return out


_API = _entities()
API_ACCOUNTS, API_CONTACTS, API_SALES_INVOICES = (
    _API[n].kind for n in ("api_accounts", "api_contacts", "api_sales_invoices"))
_API_KINDS = tuple(e.kind for e in _API.values())

KINDS: list[ExportKind] = [t.kind for t in headers.tables(SERVICE)] + [XML, XAF, *_API_KINDS]
FORMATS: dict[str, tuple[str, ...]] = {
    **{t.kind.name: t.formats for t in headers.tables(SERVICE)},
    XML.name: ("xml",), XAF.name: ("xml",), **{k.name: ("json",) for k in _API_KINDS},
}

# --------------------------------------------------------------------------------------------
# eExact XML paths (eExact-XML.xsd, typeAccount, Contact, Address, BankAccount, Invoice) with
# repeat numbers removed. Contacts are their own records; ``Contact/../@code`` is the code of
# the account the contact sits in.

_ADDRESS = {"AddressLine1": "street", "AddressStreet": "street", "PostalCode": "postcode",
            "City": "city", "Country/@code": "country", "Phone": "phone",
            **dict.fromkeys(["AddressStreetNumber", "AddressStreetSuffix", "AddressLine2",
                             "AddressLine3", "AddressNo", "AddressSuffix", "Mailbox"], "street"),
            "Fax": "phone"}
_ADDRESS_OTHER = ["@type", "@default", "@ID", "State/@code", "NIC"]
_XML_FIELDS: dict[str, str] = {
    "record": OTHER,
    "Account/@code": "customer_number", "Account/Name": "name", "Account/Phone": "phone",
    "Account/Email": "email", "Account/Note": "notes", "Account/VATNumber": "vat_number",
    "Account/ChamberOfCommerce": "kvk_number", "Account/BankAccount/IBAN": "iban",
    "Account/BankAccount/BICCode": "bic", "Account/BankAccount/Holder/Name": "account_holder",
    "Contact/../@code": "organisation_key", "Contact/@ID": "party_key",
    "Contact/@gender": "gender", "Contact/LastName": "family_name",
    "Contact/MiddleName": "name_prefix", "Contact/FirstName": "given_name",
    "Contact/Initials": "initials", "Contact/FullName": "name", "Contact/Phone": "phone",
    "Contact/Mobile": "phone", "Contact/Email": "email", "Contact/SocialSecurityNumber": "bsn",
    "Contact/BirthDate": "birth_date", "Contact/Note": "notes",
    "Account/@searchcode": "search_code", "Account/Fax": "phone", "Account/HomePage": "website",
    "Account/Language/@code": "language",
    "Contact/BirthName": "family_name", "Contact/BirthNamePrefix": "name_prefix",
    "Contact/PartnerName": "other_name", "Contact/PartnerNamePrefix": "other_name",
    "Contact/Title/@code": "title", "Contact/Language/@code": "language",
    "Contact/Nationality/@code": "nationality", "Contact/Fax": "phone",
    "Contact/BirthPlace": "birth_place", "Contact/Job/@code": "job_title",
    "Contact/Job/Description": "job_title",
    "Invoice/OrderedBy/Name": "other_name", "Invoice/Notes": "description",
    "Invoice/InvoiceLine/Description": "description",
    "Invoice/@invoicenumber": "reference", "Invoice/@status": "status",
    "Invoice/InvoiceDate": "date", "Invoice/DueDate": "due_date",
    "Invoice/Description": "description", "Invoice/InvoiceTo/@code": "customer_number",
    "Invoice/InvoiceTo/Name": "name", "Invoice/ForeignAmount/Value": "amount",
    "Invoice/ForeignAmount/Currency/@code": "currency",
    **{f"{owner}/Address/{leaf}": field for owner in ("Account", "Contact")
       for leaf, field in _ADDRESS.items()},
    **dict.fromkeys([f"{owner}/Address/{leaf}" for owner in ("Account", "Contact")
                     for leaf in _ADDRESS_OTHER], OTHER),
    **dict.fromkeys([
        "Account/@ID", "Account/@status", "Account/PhoneExt", "Account/IsSupplier",
        "Account/IsSales", "Account/IsPurchase", "Account/IsBlocked", "Account/CustomerSince",
        "Account/StatusSince", "Account/StartDate", "Account/EndDate", "Account/IsMailing",
        "Account/InvoicingMethod", "Account/BankAccount/@code", "Account/BankAccount/@format",
        "Account/BankAccount/@default", "Account/BankAccount/@type", "Account/BankAccount/@ID",
        "Account/BankAccount/Description", "Account/BankAccount/BankName",
        "Account/BankAccount/Currency/@code", "Account/BankAccount/Country/@code",
        "Contact/@number", "Contact/@code", "Contact/@default", "Contact/PhoneExt",
        "Contact/IsMailingExcluded",
        "Invoice/@ordernumber", "Invoice/@type", "Invoice/Journal/@code", "Invoice/OrderDate",
        "Invoice/YourRef", "Invoice/OrderedBy/@code", "Invoice/PaymentCondition/@code",
        "Invoice/ForeignAmount/Rate",
        "Invoice/ForeignAmount/VATBaseAmount", "Invoice/ForeignAmount/VATAmount",
        "Invoice/InvoiceLine/@line", "Invoice/InvoiceLine/Item/@code",
        "Invoice/InvoiceLine/Quantity"], OTHER),
}
# Columns that feed a field another column feeds better: a birth name, a fax number, a second
# address line, marketing notes, invoice remarks and line texts fill the field only when the
# main column is empty (canonical_frame takes the first non-empty value in column order).
_SECONDARY = {headers.fold(n) for n in [
    "BirthName", "BirthNamePrefix", "Geboortenaam", "Birth name", "MarketingNotes", "BusinessFax",
    "Fax", "AddressLine2", "AddressLine3", "Adresregel 2", "Adresregel 3", "Address line 2",
    "Address line 3", "Mailbox", "Remarks"]}
_SECONDARY_PATHS = {"Invoice/Notes", "Invoice/InvoiceLine/Description"}


def _prefer(column_map: dict[str, str | None]) -> dict[str, str | None]:
    """The column map with the secondary columns last (see ``_SECONDARY``)."""
    def late(column: str) -> bool:
        plain = re.sub(r"\[\d+\]", "", column)
        return plain in _SECONDARY_PATHS or headers.fold(plain.rpartition("/")[2]) in _SECONDARY

    return dict(sorted(column_map.items(), key=lambda item: late(item[0])))


_XML_EXPECTED = "an eExact XML export (root 'eExact' holding Accounts or Invoices)"


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    loaded = _common.load(path)
    if loaded.format in ("csv", "xlsx"):
        return _common.table_kind(loaded, SERVICE, mappings)
    if loaded.format == "xml":
        if _xaf.is_xaf(loaded):
            return XAF if "exact" in _xaf.software(loaded).lower() else None
        return XML if _xml.local(_xml.root_tag(loaded)) == "eExact" else None
    if loaded.format == "json":
        return _api_kind(loaded)
    return None


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "Exact Online", KINDS, FORMATS, mappings,
                                   mismatch="is a {fmt} file, not a {title}")
    if kind == XAF:
        return _xaf.read(loaded, XAF)
    if kind == XML:
        return _read_xml(loaded)
    if kind in _API_KINDS:
        return _read_api(loaded, kind)
    return _read_list(loaded, _common.table_for(kind, mappings))


# --------------------------------------------------------------------------------------------
# list-view exports


def _read_list(loaded: _common.Loaded, table: headers.HeaderTable) -> Extract:
    lacking = table.missing(loaded.columns)
    if lacking:
        raise InputError(loaded.path, f"lacks the columns {', '.join(lacking)}",
                         expected=table.kind.title)
    raw = loaded.table
    column_map = table.column_map(list(raw.columns))
    canon = _organisations(_common.canonical_frame(raw, _prefer(column_map), loaded.path))
    parties, documents = _common.split(canon)
    return _common.finish(table.kind, raw, parties, documents, column_map)


def _organisations(canon: pd.DataFrame) -> pd.DataFrame:
    """A relation with a KvK or btw number is an organisation: its name is the company's
    unless it has a trade name. Contact persons (whose company is their relation's name, and
    who have no KvK or btw number) are left alone."""
    if "name" not in canon.columns:
        return canon
    business = _common.column(canon, "kvk_number").ne("") | _common.column(canon, "vat_number").ne("")
    company = _common.column(canon, "company")
    return canon.assign(company=company.where(company.ne(""), canon["name"].where(business, "")))


def _street(raw: pd.DataFrame, prefix: str, number: str, suffix: str) -> pd.Series:
    """Street and house number as one line where the file splits them (``AddressStreet`` plus
    ``AddressStreetNumber``), the address line where it has one."""
    joined = _common.column(raw, prefix + "Street").str.cat(
        [_common.column(raw, prefix + number), _common.column(raw, prefix + suffix)], sep=" ")
    joined = joined.str.replace(r"\s+", " ", regex=True).str.strip()
    line = _common.column(raw, prefix + "Line1").str.strip()
    return line.where(line.ne(""), joined)


# --------------------------------------------------------------------------------------------
# eExact XML


def _parse_xml(loaded: _common.Loaded) -> Element:
    root = _xml.parse(loaded, _XML_EXPECTED)
    if _xml.local(root.tag) != "eExact":
        raise InputError(loaded.path, f"the root element is '{_xml.local(root.tag)}'",
                         expected=_XML_EXPECTED)
    return root


def _xml_records(root: Element) -> list[dict[str, str]]:
    records = []
    for accounts in _xml.children(root, "Accounts"):
        for account in _xml.children(accounts, "Account"):
            records.append({"record": "account", **_xml.flatten(account, "Account", skip=("Contact",))})
            for contact in _xml.children(account, "Contact"):
                records.append({"record": "contact", "Contact/../@code": account.get("code", ""),
                                **_xml.flatten(contact, "Contact")})
    for invoices in _xml.children(root, "Invoices"):
        for invoice in _xml.children(invoices, "Invoice"):
            records.append({"record": "invoice", **_xml.flatten(invoice, "Invoice")})
    return records


def _read_xml(loaded: _common.Loaded) -> Extract:
    records = _xml_records(_parse_xml(loaded))
    if not records:
        raise InputError(loaded.path, "holds no Accounts/Account and no Invoices/Invoice",
                         expected=_XML_EXPECTED)
    raw = pd.DataFrame(records).fillna("").astype("str")
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    column_map = {c: _XML_FIELDS.get(re.sub(r"\[\d+\]", "", c)) for c in raw.columns}
    canon = _common.canonical_frame(raw, _prefer(column_map), loaded.path)
    for owner in ("Account", "Contact"):
        rows = raw["record"].eq(owner.lower())
        street = _street(raw, f"{owner}/Address/Address", "StreetNumber", "StreetSuffix")
        canon["street"] = street.where(rows, _common.column(canon, "street"))
    # An account is known by its code; a contact by its ID (or its content when it has none).
    canon["party_key"] = _common.column(canon, "party_key").where(
        raw["record"].eq("contact"), _common.column(canon, "customer_number"))
    canon = _organisations(canon)
    parties, documents = _common.split(canon, "invoice")
    documents = documents.loc[documents.index.intersection(raw.index[raw["record"].eq("invoice")])]
    documents["doc_key"] = _common.column(documents, "reference")
    return _common.finish(XML, raw, parties, documents, column_map)


# --------------------------------------------------------------------------------------------
# REST API dumps


def _api_kind(loaded: _common.Loaded) -> ExportKind | None:
    records = _common.json_records(loaded)
    if records is None:
        return None
    metadata = records[0].get("__metadata")
    odata = metadata.get("type") if isinstance(metadata, dict) else None
    by_type = [e.kind for e in _API.values() if e.odata_type and e.odata_type == odata]
    if by_type:
        return by_type[0]
    keys = set().union(*(r.keys() for r in records))
    # the most specific signature first: a sales invoice also has an OrderNumber and OrderedBy
    for entity in sorted(_API.values(), key=lambda e: -len(e.needed)):
        if entity.needed <= keys and keys & entity.some:
            return entity.kind
    return None


def _read_api(loaded: _common.Loaded, kind: ExportKind) -> Extract:
    records = _common.json_records(loaded)
    if records is None:
        raise InputError(loaded.path, "holds no list of API objects",
                         expected=f'{kind.title}: a list, {{"d": {{"results": [...]}}}} or one '
                                  f'entity {{"d": {{...}}}}')
    entity = _API[kind.name]
    keys = set().union(*(r.keys() for r in records))
    if not entity.needed <= keys:
        raise InputError(loaded.path, f"lacks the fields {', '.join(sorted(entity.needed - keys))}",
                         expected=kind.title)
    rows, names = _expanded(records, entity)
    raw = _common.flatten(rows)
    entities = pd.Series(names, index=raw.index)
    parts = [_api_part(loaded, raw[entities.eq(n)], _API[n]) for n in dict.fromkeys(names)]
    if len(parts) == 1:
        return dataclasses.replace(parts[0], raw=raw)
    documents = pd.concat([p.documents for p in parts]).sort_values("source_row")
    parties = pd.concat([p.parties for p in parts])
    column_map = {c: max((p.column_map.get(c) for p in parts), key=_telling) for c in raw.columns}
    return Extract(kind, raw, parties[~parties["party_key"].duplicated()].sort_values("source_row"),
                   _inherit_parties(raw, documents), column_map,
                   pd.concat([p.identifiers for p in parts], ignore_index=True))


def _api_part(loaded: _common.Loaded, raw: pd.DataFrame, entity: _Entity) -> Extract:
    """The records of one entity (an invoice, or the lines expanded in it)."""
    column_map = {c: entity.fields.get(c, OTHER if _odata_plumbing(c) or c == _EMBEDDED else None)
                  for c in raw.columns}
    canon = _common.canonical_frame(raw, _prefer(column_map), loaded.path)
    if entity.kind == API_CONTACTS:
        canon["street"] = _street(raw, "Address", "StreetNumber", "StreetNumberSuffix")
    if entity.kind == API_ACCOUNTS:
        canon = _organisations(canon)
    parties, documents = _common.split(canon, entity.doc_type)
    return _common.finish(entity.kind, raw, parties, documents, column_map)


_EMBEDDED = "embedded in"  # the raw column naming the row of the entity a line came in


def _expanded(records: list[dict], entity: _Entity) -> tuple[list[dict], list[str]]:
    """The records and, right after each, the lines $expand put in it (``{"results": [...]}``
    under a key an entity of the toml names), each with the kind it is read as."""
    expands = {e.expanded_in: e.kind.name for e in _API.values() if e.expanded_in}
    rows, names = [], []
    for record in records:
        lines = {k: v["results"] for k, v in record.items() if k in expands and _lines(v)}
        rows.append({k: v for k, v in record.items() if k not in lines})
        names.append(entity.kind.name)
        parent = len(rows)
        for key, items in lines.items():
            rows += [{_EMBEDDED: f"row {parent}", **item} for item in items]
            names += [expands[key]] * len(items)
    return rows, names


def _lines(value: object) -> bool:
    results = value.get("results") if isinstance(value, dict) else None
    return isinstance(results, list) and bool(results) and all(isinstance(r, dict) for r in results)


def _inherit_parties(raw: pd.DataFrame, documents: pd.DataFrame) -> pd.DataFrame:
    """A line without a party of its own belongs to the party of the entity it came in."""
    parent_row = raw[_EMBEDDED].str.removeprefix("row ").reindex(documents["source_row"]).to_numpy()
    key_of = dict(zip(documents["source_row"].astype("str"), documents["party_key"], strict=True))
    inherited = pd.Series(parent_row, index=documents.index).map(key_of).fillna("")
    return documents.assign(party_key=documents["party_key"].mask(documents["party_key"].eq(""), inherited))


def _telling(target: str | None) -> int:
    """How much a column's field says: personal data first, then any field, then known."""
    if target in FIELDS:
        return 3 if FIELDS[target].personal else 2
    return 1 if target == OTHER else 0


def _odata_plumbing(column: str) -> bool:
    """OData's own metadata and links to related lists (``BankAccounts.__deferred.uri``)."""
    return column.startswith("__metadata.") or ".__deferred." in column
