"""The demo business's Exact Online exports: the relations and contact persons lists (CSV as
Exact writes list views: UTF-16 with BOM, TAB, glued captions, padded codes; and Excel), the
eExact XML of both topics, the XAF auditfile, and REST dumps of accounts, contacts and sales
invoices in the OData wrapper.

Exact has the moved client's old address (see :meth:`Business.as_typed`), and the client
flagged ``bsn_in_exact`` has a BSN typed into the *Sofinummer* field of their contact person.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

from openpyxl import Workbook

from workbench.demo import Business, Client, Invoice, Person
from workbench.demo._files import xlsx_bytes
from workbench.demo._xaf import write_xaf

SERVICE = "exact"
DIVISION = 1234567
API = f"https://start.exactonline.nl/api/v1/{DIVISION}"
_IDS = uuid.UUID("0b5e8c1e-2f4a-4c1d-9a57-3e1f0c2d7a10")  # namespace for the demo's GUIDs

RELATION_HEADER = ["Code", "Naam", "Zoekcode", "Adresregel 1", "Postcode", "Plaats", "LandCode",
                   "LandOmschrijving", "Telefoon", "E-mail", "KvK-nummer", "Btw-nummer", "IBAN",
                   "Status", "Klant sinds", "Kredietlimiet verkoop", "Classificatie 1Omschrijving"]
CONTACT_HEADER = ["RelatieCode", "RelatieNaam", "Voornaam", "Tussenvoegsel", "Achternaam",
                  "Voorletters", "Functienaam", "Telefoon", "Mobiel", "E-mail", "Geslacht",
                  "Geboortedatum", "BSN", "Nationaliteit"]
GENDER = {"M": "Man", "V": "Vrouw", "O": "Onbekend"}
JOBS = ["Directeur", "Office manager", "Boekhouder", "Eigenaar", "IT-coördinator"]


def write(business: Business, out: Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clients = business.clients_of(SERVICE)
    invoices = [i for i in business.invoices if i.service == SERVICE]
    relations = [_relation(business, c) for c in clients]
    contacts = [row for c in clients for row in _contacts(business, c)]
    return [
        _csv(out / "CRMAccounts.csv", RELATION_HEADER, relations),
        _xlsx(out / "CRMAccounts.xlsx", RELATION_HEADER, relations),
        _csv(out / "CRMContacts.csv", CONTACT_HEADER, contacts),
        _xlsx(out / "CRMContacts.xlsx", CONTACT_HEADER, contacts),
        _xml(out / "Accounts.xml", _accounts_xml(business, clients)),
        _xml(out / "Invoices.xml", _invoices_xml(business, invoices)),
        write_xaf(out / "Auditfile.xaf", business, SERVICE, clients, invoices, "Exact Online"),
        _json(out / "crm_Accounts.json", [_api_account(business, c) for c in clients]),
        _json(out / "crm_Contacts.json",
              [_api_contact(business, c, p, i) for c in clients for i, p in enumerate(_people(c))]),
        _json(out / "salesinvoice_SalesInvoices.json",
              [_api_invoice(business, i) for i in invoices]),
    ]


# --------------------------------------------------------------------------------------------
# the people as Exact has them


def _code(client: Client) -> str:
    """Exact's relation code: numeric text right-aligned in 18 characters."""
    return f"{client.number:>18}"


def _people(client: Client) -> list[Person]:
    """The relation's contact persons: the main person first, then a company's others."""
    return [client.person, *client.contacts]


def _typed(business: Business, client: Client, person: Person) -> Person:
    return business.as_typed(client, SERVICE, None if person is client.person else person)


def _name(business: Business, client: Client) -> str:
    return client.company or business.as_typed(client, SERVICE).full_name


def _bsn(client: Client, person: Person) -> str:
    return person.bsn if "bsn_in_exact" in client.flags and person is client.person else ""


def _guid(*parts: object) -> str:
    return str(uuid.uuid5(_IDS, ":".join(map(str, parts))))


def _dutch_date(day: date) -> str:
    return f"{day:%d-%m-%Y}"


def _relation(business: Business, client: Client) -> dict[str, object]:
    person = business.as_typed(client, SERVICE)
    name = _name(business, client)
    credit = business.rng("exact-credit", client.number).choice([0, 0, 500, 2500, 10000])
    return {
        "Code": _code(client), "Naam": name,
        "Zoekcode": re.sub(r"[^A-Z0-9]", "", name.upper())[:10],
        "Adresregel 1": person.address, "Postcode": person.postcode, "Plaats": person.city,
        "LandCode": person.country, "LandOmschrijving": "Nederland", "Telefoon": person.phone,
        "E-mail": person.email, "KvK-nummer": client.kvk, "Btw-nummer": client.vat,
        "IBAN": person.iban, "Status": "Klant", "Klant sinds": client.since,
        "Kredietlimiet verkoop": f"{credit:,.2f}".replace(",", "_").replace(".", ",").replace("_", "."),
        "Classificatie 1Omschrijving": "Particulier" if client.kind == "consumer" else "MKB",
    }


def _contacts(business: Business, client: Client) -> list[dict[str, object]]:
    rows = []
    for index, original in enumerate(_people(client)):
        person = _typed(business, client, original)
        consumer = client.kind == "consumer"
        rows.append({
            "RelatieCode": _code(client), "RelatieNaam": _name(business, client),
            "Voornaam": person.given_name, "Tussenvoegsel": person.name_prefix,
            "Achternaam": person.family_name, "Voorletters": person.given_name[:1] + ".",
            "Functienaam": "" if consumer else JOBS[(client.number + index) % len(JOBS)],
            "Telefoon": "" if consumer else person.phone, "Mobiel": person.phone if consumer else "",
            "E-mail": person.email, "Geslacht": GENDER[person.gender],
            "Geboortedatum": person.birth_date if consumer or _bsn(client, original) else "",
            "BSN": _bsn(client, original), "Nationaliteit": "NL" if consumer else "",
        })
    return rows


# --------------------------------------------------------------------------------------------
# list views


def _csv(path: Path, header: list[str], rows: list[dict[str, object]]) -> Path:
    """UTF-16 LE with BOM, TAB-separated, CRLF, dates as DD-MM-YYYY, as Exact's list export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_dutch_date(v) if isinstance(v, date) else v for v in
                         (row[h] for h in header)])
    path.write_bytes(b"\xff\xfe" + buffer.getvalue().encode("utf-16-le"))
    return path


def _xlsx(path: Path, header: list[str], rows: list[dict[str, object]]) -> Path:
    """The same list as Excel: real date cells, codes as (padded) text."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Export"
    sheet.append(header)
    for row in rows:
        sheet.append([row[h] if row[h] != "" else None for h in header])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, date):
                cell.number_format = "DD-MM-YYYY"
    path.write_bytes(xlsx_bytes(book))
    return path


# --------------------------------------------------------------------------------------------
# eExact XML


def _root() -> ET.Element:
    return ET.Element("eExact", {
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "eExact-XML.xsd",
    })


def _text(parent: ET.Element, name: str, value: str, **attrib: str) -> ET.Element | None:
    """A child element, left out when it would be empty (as Exact's export does)."""
    if not value and not attrib:
        return None
    element = ET.SubElement(parent, name, attrib)
    if value:
        element.text = value
    return element


def _accounts_xml(business: Business, clients: list[Client]) -> ET.Element:
    root = _root()
    accounts = ET.SubElement(root, "Accounts")
    for client in clients:
        person = business.as_typed(client, SERVICE)
        account = ET.SubElement(accounts, "Account", {
            "code": _code(client), "status": "C", "ID": "{" + _guid("account", client.number) + "}"})
        _text(account, "Name", _name(business, client))
        _text(account, "Phone", person.phone)
        _text(account, "Email", person.email)
        for index, original in enumerate(_people(client)):
            _contact_xml(account, business, client, original, index)
        address = ET.SubElement(account, "Address", {"type": "INV", "default": "1"})
        _text(address, "AddressLine1", person.address)
        _text(address, "PostalCode", person.postcode)
        _text(address, "City", person.city)
        _text(address, "Country", "", code=person.country)
        bank = ET.SubElement(account, "BankAccount", {
            "code": person.iban.replace(" ", ""), "default": "1", "format": "IBAN"})
        _text(bank, "BICCode", person.bic)
        _text(bank, "IBAN", person.iban)
        holder = ET.SubElement(bank, "Holder")
        _text(holder, "Name", _name(business, client))
        _text(account, "VATNumber", client.vat)
        _text(account, "ChamberOfCommerce", client.kvk)
        _text(account, "CustomerSince", client.since.isoformat())
    return root


def _contact_xml(account: ET.Element, business: Business, client: Client, original: Person,
                 index: int) -> None:
    person = _typed(business, client, original)
    contact = ET.SubElement(account, "Contact", {
        "number": str(index + 1), "gender": person.gender,
        "default": "1" if index == 0 else "0", "ID": "{" + _guid("contact", client.number, index) + "}"})
    _text(contact, "LastName", person.family_name)
    _text(contact, "MiddleName", person.name_prefix)
    _text(contact, "FirstName", person.given_name)
    _text(contact, "Initials", person.given_name[:1] + ".")
    _text(contact, "Phone", person.phone)
    _text(contact, "Email", person.email)
    _text(contact, "SocialSecurityNumber", _bsn(client, original))
    if _bsn(client, original) or client.kind == "consumer":
        _text(contact, "BirthDate", person.birth_date.isoformat())


def _invoices_xml(business: Business, invoices: list[Invoice]) -> ET.Element:
    root = _root()
    element = ET.SubElement(root, "Invoices")
    for invoice in invoices:
        client = business.client(invoice.client_number)
        node = ET.SubElement(element, "Invoice", {
            "invoicenumber": invoice.number, "type": "8020",
            "status": "20" if invoice.status == "open" else "50"})
        _text(node, "InvoiceDate", invoice.date.isoformat())
        _text(node, "DueDate", invoice.due_date.isoformat())
        _text(node, "Description", invoice.description)
        for role in ("OrderedBy", "InvoiceTo"):
            account = ET.SubElement(node, role, {"code": _code(client)})
            _text(account, "Name", _name(business, client))
        amount = ET.SubElement(node, "ForeignAmount")
        _text(amount, "Currency", "", code="EUR")
        _text(amount, "Value", f"{invoice.amount_incl:.2f}")
        _text(amount, "VATBaseAmount", f"{invoice.amount_excl:.2f}")
        _text(amount, "VATAmount", f"{invoice.vat_amount:.2f}")
        line = ET.SubElement(node, "InvoiceLine", {"line": "1"})
        _text(line, "Description", invoice.description)
        _text(line, "Item", "", code="DIENST")
        _text(line, "Quantity", "1")
    return root


def _xml(path: Path, root: ET.Element) -> Path:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


# --------------------------------------------------------------------------------------------
# REST dumps


def _odata_date(day: date | None) -> str | None:
    """``/Date(ms)/`` as Exact's OData v2 API writes dates (midnight UTC)."""
    if day is None:
        return None
    ms = (day - date(1970, 1, 1)).days * 86_400_000
    return f"/Date({ms})/"


def _meta(entity: str, key: str, type_name: str) -> dict[str, str]:
    return {"uri": f"{API}/{entity}(guid'{key}')", "type": f"Exact.Web.Api.Models.{type_name}"}


def _api_account(business: Business, client: Client) -> dict[str, object]:
    person = business.as_typed(client, SERVICE)
    key = _guid("account", client.number)
    return {
        "__metadata": _meta("crm/Accounts", key, "Account"),
        "ID": key, "Code": _code(client), "Name": _name(business, client),
        "SearchCode": re.sub(r"[^A-Z0-9]", "", _name(business, client).upper())[:10],
        "AddressLine1": person.address, "AddressLine2": None, "Postcode": person.postcode,
        "City": person.city, "Country": person.country, "CountryName": "Nederland",
        "Phone": person.phone or None, "Email": person.email or None,
        "ChamberOfCommerce": client.kvk or None, "VATNumber": client.vat or None, "BSN": None,
        "Status": "C", "CustomerSince": _odata_date(client.since), "IsSales": True,
        "Remarks": None, "MainContact": _guid("contact", client.number, 0),
        "Created": _odata_date(client.since), "Division": DIVISION,
        "BankAccounts": {"__deferred": {"uri": f"{API}/crm/Accounts(guid'{key}')/BankAccounts"}},
    }


def _api_contact(business: Business, client: Client, original: Person,
                 index: int) -> dict[str, object]:
    person = _typed(business, client, original)
    key = _guid("contact", client.number, index)
    birth = person.birth_date if _bsn(client, original) or client.kind == "consumer" else None
    number, _, suffix = person.house_number.partition(" ")
    return {
        "__metadata": _meta("crm/Contacts", key, "Contact"),
        "ID": key, "Account": _guid("account", client.number),
        "AccountName": _name(business, client), "FirstName": person.given_name,
        "MiddleName": person.name_prefix or None, "LastName": person.family_name,
        "Initials": person.given_name[:1] + ".", "FullName": person.full_name,
        "BirthDate": _odata_date(birth), "Email": person.email or None, "BusinessEmail": None,
        "Phone": person.phone or None, "Mobile": None,
        "SocialSecurityNumber": _bsn(client, original) or None, "Gender": person.gender,
        "AddressStreet": person.street if client.kind == "consumer" else None,
        "AddressStreetNumber": number if client.kind == "consumer" else None,
        "AddressStreetNumberSuffix": suffix if client.kind == "consumer" and suffix else None,
        "Postcode": person.postcode if client.kind == "consumer" else None,
        "City": person.city if client.kind == "consumer" else None,
        "JobTitleDescription": None if client.kind == "consumer"
        else JOBS[(client.number + index) % len(JOBS)],
        "IsMainContact": index == 0, "Created": _odata_date(client.since), "Division": DIVISION,
    }


def _api_invoice(business: Business, invoice: Invoice) -> dict[str, object]:
    client = business.client(invoice.client_number)
    account = _guid("account", client.number)
    key = _guid("invoice", invoice.number)
    return {
        "__metadata": _meta("salesinvoice/SalesInvoices", key, "SalesInvoice"),
        "InvoiceID": key, "InvoiceNumber": invoice.number, "InvoiceTo": account,
        "InvoiceToName": _name(business, client), "OrderedBy": account,
        "OrderedByName": _name(business, client), "InvoiceDate": _odata_date(invoice.date),
        "DueDate": _odata_date(invoice.due_date), "AmountDC": float(invoice.amount_incl),
        "AmountFC": float(invoice.amount_incl), "VATAmountDC": float(invoice.vat_amount),
        "Currency": "EUR", "Description": invoice.description,
        "Status": 20 if invoice.status == "open" else 50,
        "StatusDescription": "Open" if invoice.status == "open" else "Verwerkt",
        "Type": 8020, "YourRef": str(client.number), "Division": DIVISION,
    }


def _json(path: Path, records: list[dict[str, object]]) -> Path:
    """The OData v2 wrapper Exact's API answers with."""
    path.write_text(json.dumps({"d": {"results": records}}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return path
