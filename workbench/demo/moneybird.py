"""The demo business's MoneyBird exports: the contacts workbook and the same re-saved as CSV by
Dutch Excel (``;``, Windows-1252, ``dd-mm-jjjj``), the sales invoices as workbook and CSV, API
dumps of contacts and sales invoices, and the XAF auditfile.

Companies are typed in as MoneyBird users do: the company name with the person under *T.a.v.*,
their other contact persons only in the API's ``contact_people``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

from workbench.demo import TODAY, Business, Client, Invoice, Person
from workbench.demo._files import xlsx_bytes
from workbench.demo._xaf import write_xaf

SERVICE = "moneybird"
FIXED = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, 0)
ADMINISTRATION_ID = 246813579012345678

CONTACT_HEADER = [
    "Klantnummer", "Bedrijfsnaam", "Voornaam", "Achternaam", "T.a.v.", "Adres 1", "Adres 2",
    "Postcode", "Plaats", "Land", "Telefoonnummer", "E-mailadres", "E-mailadres voor facturen",
    "Btw-nummer", "KvK-nummer", "IBAN", "Naam rekeninghouder", "BIC", "Mandaatreferentie",
    "Mandaatdatum", "Verzendmethode", "Notities", "Klant sinds",
]
INVOICE_HEADER = [
    "Factuurnummer", "Factuurdatum", "Vervaldatum", "Contact", "Klantnummer", "Referentie",
    "Bedrag excl. btw", "Btw", "Totaal incl. btw", "Openstaand bedrag", "Status",
]
STATUS = {"paid": "Betaald", "open": "Openstaand", "late": "Te laat"}
NOTES = ["", "", "", "", "Belt liever na 17:00", "Oud-klant, opnieuw aangemeld",
         "Facturen graag ook per post"]


def write(business: Business, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    clients = business.clients_of(SERVICE)
    invoices = [i for i in business.invoices if i.service == SERVICE]
    contacts = [_contact(business, c) for c in clients]
    return [
        _xlsx(out / "contacten.xlsx", CONTACT_HEADER, [_contact_row(c) for c in contacts]),
        _csv(out / "contacten.csv", CONTACT_HEADER, [_contact_row(c) for c in contacts]),
        _xlsx(out / "verkoopfacturen.xlsx", INVOICE_HEADER,
              [_invoice_row(business, i) for i in invoices]),
        _csv(out / "verkoopfacturen.csv", INVOICE_HEADER,
             [_invoice_row(business, i) for i in invoices], trailing_blank=True),
        _json(out / "contacts.json", contacts),
        _json(out / "sales_invoices.json", _api_invoices(business, invoices, contacts)),
        write_xaf(out / f"auditfile_{TODAY.year}.xaf", business, SERVICE, clients, invoices,
                  "Moneybird"),
    ]


# --------------------------------------------------------------------------------------------
# one contact, as the API returns it; the spreadsheet rows are made from it


def _contact(business: Business, client: Client) -> dict:
    """The contact as MoneyBird's API returns it (fields of picqer's Contact.php)."""
    rng = business.rng(SERVICE, "contact", client.number)
    person = business.as_typed(client, SERVICE)
    company = client.kind == "company"
    sepa = rng.random() < 0.5
    invoice_email = (f"facturen@{''.join(ch for ch in client.company.lower() if ch.isalnum())}.nl"
                     if company else person.email)
    created = datetime.combine(client.since, datetime.min.time()) + timedelta(hours=10)
    contact_id = str(rng.randrange(10**17, 10**18))
    return {
        "id": contact_id, "administration_id": ADMINISTRATION_ID,
        "company_name": client.company,
        "firstname": "" if company else person.given_name,
        "lastname": "" if company else person.family,
        "address1": person.address, "address2": "", "zipcode": person.postcode,
        "city": person.city, "country": person.country, "phone": person.phone,
        "delivery_method": "Post" if rng.random() < 0.05 else "Email",
        "customer_id": str(client.number), "tax_number": client.vat,
        "chamber_of_commerce": client.kvk, "bank_account": "",
        "attention": person.full_name if company else "", "email": person.email,
        "email_ubl": True, "send_invoices_to_attention": person.full_name if company else "",
        "send_invoices_to_email": invoice_email, "send_estimates_to_attention": "",
        "send_estimates_to_email": person.email, "sepa_active": sepa,
        "sepa_iban": person.iban if sepa else "",
        "sepa_iban_account_name": (client.company or person.full_name) if sepa else "",
        "sepa_bic": person.bic if sepa else "",
        "sepa_mandate_id": f"MB-{client.number}" if sepa else "",
        "sepa_mandate_date": client.since.isoformat() if sepa else None,
        "sepa_sequence_type": "RCUR", "credit_card_number": "", "credit_card_reference": "",
        "credit_card_type": None, "invoice_workflow_id": None, "estimate_workflow_id": None,
        "tax_number_validated_at": None, "created_at": _stamp(created),
        "updated_at": _stamp(created), "version": _epoch(created),
        "notes": _notes(rng.choice(NOTES), created), "custom_fields": [],
        "contact_people": [_person(business, client, contact_id, p, i)
                           for i, p in enumerate(client.contacts)],
        "archived": False, "events": [],
    }


def _person(business: Business, client: Client, contact_id: str, person: Person, index: int) -> dict:
    typed = business.as_typed(client, SERVICE, person)
    return {
        "id": f"{client.number}{index:02d}{'7' * 12}", "contact_id": contact_id,
        "administration_id": ADMINISTRATION_ID, "firstname": typed.given_name,
        "lastname": typed.family, "phone": typed.phone, "email": typed.email,
        "department": "", "created_at": _stamp(FIXED), "updated_at": _stamp(FIXED),
        "version": _epoch(FIXED),
    }


def _notes(text: str, when: datetime) -> list[dict]:
    return [{"id": "1" * 18, "note": text, "todo": False, "created_at": _stamp(when)}] if text else []


def _epoch(moment: datetime) -> int:
    """Seconds since 1970 of a UTC wall-clock time, whatever the machine's time zone."""
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.000Z"


def _contact_row(contact: dict) -> list[object]:
    mandate = contact["sepa_mandate_date"]
    notes = contact["notes"][0]["note"] if contact["notes"] else ""
    return [
        int(contact["customer_id"]), contact["company_name"], contact["firstname"],
        contact["lastname"], contact["attention"], contact["address1"], contact["address2"],
        contact["zipcode"], contact["city"], contact["country"], contact["phone"],
        contact["email"], contact["send_invoices_to_email"], contact["tax_number"],
        contact["chamber_of_commerce"], contact["sepa_iban"], contact["sepa_iban_account_name"],
        contact["sepa_bic"], contact["sepa_mandate_id"],
        date.fromisoformat(mandate) if mandate else None,
        "E-mail" if contact["delivery_method"] == "Email" else "Post", notes,
        date.fromisoformat(contact["created_at"][:10]),  # a custom field nobody maps
    ]


# --------------------------------------------------------------------------------------------
# sales invoices


def _invoice_row(business: Business, invoice: Invoice) -> list[object]:
    client = business.client(invoice.client_number)
    outstanding = Decimal("0.00") if invoice.status == "paid" else invoice.amount_incl
    return [
        invoice.number, invoice.date, invoice.due_date,
        client.company or business.as_typed(client, SERVICE).full_name, client.number,
        _reference(client), invoice.amount_excl, invoice.vat_amount, invoice.amount_incl,
        outstanding, STATUS[invoice.status],
    ]


def _reference(client: Client) -> str:
    return f"Contract {client.number}" if client.kind == "company" else ""


def _api_invoices(business: Business, invoices: list[Invoice], contacts: list[dict]) -> list[dict]:
    by_number = {c["customer_id"]: c for c in contacts}
    rng = business.rng(SERVICE, "invoice_ids")
    result = []
    for invoice in invoices:
        contact = by_number[str(invoice.client_number)]
        paid = invoice.status == "paid"
        sent = datetime.combine(invoice.date, datetime.min.time()) + timedelta(hours=9)
        result.append({
            "id": str(rng.randrange(10**17, 10**18)), "administration_id": ADMINISTRATION_ID,
            "contact_id": contact["id"], "contact": contact, "invoice_id": invoice.number,
            "workflow_id": "1" * 18, "document_style_id": "2" * 18, "identity_id": "3" * 18,
            "state": invoice.status, "invoice_date": invoice.date.isoformat(),
            "due_date": invoice.due_date.isoformat(), "payment_conditions": "",
            "reference": _reference(business.client(invoice.client_number)), "language": "nl",
            "currency": "EUR", "discount": "0.0",
            "original_sales_invoice_id": None, "paid_at": invoice.due_date.isoformat() if paid else None,
            "sent_at": invoice.date.isoformat(), "created_at": _stamp(sent),
            "updated_at": _stamp(sent), "public_view_code": str(rng.randrange(10**5, 10**6)),
            "version": _epoch(sent),
            "details": [{"id": str(rng.randrange(10**17, 10**18)), "description": invoice.description,
                         "price": str(invoice.amount_excl), "amount": "1 x",
                         "tax_rate_id": "4" * 18}],
            "payments": [], "total_paid": str(invoice.amount_incl if paid else Decimal("0.0")),
            "total_unpaid": str(Decimal("0.0") if paid else invoice.amount_incl),
            "total_price_excl_tax": str(invoice.amount_excl),
            "total_price_incl_tax": str(invoice.amount_incl), "custom_fields": [], "notes": [],
            "attachments": [],
        })
    return result


# --------------------------------------------------------------------------------------------
# files


def _xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """An Excel workbook with real date and number cells, byte-identical for the same rows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Export"
    sheet.append(header)
    for row in rows:
        sheet.append([float(v) if isinstance(v, Decimal) else (v if v != "" else None) for v in row])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, date):
                cell.number_format = "DD-MM-YYYY"
    workbook.properties.creator = "Moneybird"
    path.write_bytes(xlsx_bytes(workbook))
    return path


def _csv(path: Path, header: list[str], rows: list[list[object]], trailing_blank: bool = False) -> Path:
    """As Dutch Excel saves a sheet as CSV: ';', Windows-1252, dd-mm-jjjj, 1.234,56, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_dutch(v) for v in row] for row in rows)
    if trailing_blank:  # a formatted but empty row below the data
        writer.writerow([""] * len(header))
    path.write_bytes(buffer.getvalue().encode("cp1252", errors="replace"))
    return path


def _dutch(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value:%d-%m-%Y}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return str(value)


def _json(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
