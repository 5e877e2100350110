"""The demo business's FactuurSturen exports: the clients and invoices exports as CSV and Excel,
and JSON dumps of the API's clients and invoices.

The CSV and Excel column labels are inferred (see ``config/headers/factuursturen.toml``); the
JSON uses the API's own field names and conventions (numbers and most booleans as strings, dates
``YYYY-MM-DD``, non-ASCII escaped). The clients CSV is Windows-1252 with ``;``, ``dd-mm-jjjj``
dates and a blank trailing line; the invoices CSV is UTF-8 with BOM and Dutch amounts
(``1.234,56``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

from workbench.demo import TODAY, Business, Client, Invoice
from workbench.demo._files import xlsx_bytes

SERVICE = "factuursturen"
_FIXED = datetime.combine(TODAY, datetime.min.time())
_NOTES = ["Belt liever dan mailen", "Factuur t.a.v. de administratie",
          "Alleen 's ochtends bereikbaar", "Sleutel ligt bij de buren"]

# (label in the dashboard export, API field) for the clients and invoices exports.
CLIENT_COLUMNS = [
    ("Klantnummer", "clientnr"), ("Bedrijfsnaam", "company"), ("Contactpersoon", "contact"),
    ("Contactpersoon tonen", "showcontact"), ("Adres", "address"), ("Postcode", "zipcode"),
    ("Plaats", "city"), ("Land", "country"), ("Telefoon", "phone"), ("Mobiel", "mobile"),
    ("E-mail", "email"), ("IBAN", "bankcode"), ("BIC", "biccode"), ("Btw-nummer", "taxnumber"),
    ("Btw verlegd", "taxshifted"), ("Laatste factuur", "lastinvoice"),
    ("Verzendmethode", "sendmethod"), ("Betaalmethode", "paymentmethod"),
    ("Betalingstermijn", "top"), ("Standaardkorting", "stddiscount"),
    ("Aanhef e-mail", "mailintro"), ("Referentie", "reference"), ("Notities", "notes"),
    ("Notities op factuur", "notesoninvoice"), ("Actief", "active"), ("Taal", "defaultdoclang"),
    ("Valuta", "currency"), ("Machtigingskenmerk", "mandateid"),
    ("Machtigingsdatum", "mandatedate"), ("Incassotype", "collecttype"),
    ("Btw-type", "taxtype"), ("Laatst gewijzigd", "timestamp"),
]
INVOICE_COLUMNS = [
    ("Factuurnummer", "invoicenr"), ("Factuurdatum", "sent"), ("Vervaldatum", "duedate"),
    ("Klantnummer", "clientnr"), ("Bedrijfsnaam", "company"), ("Contactpersoon", "contact"),
    ("Adres", "address"), ("Postcode", "zipcode"), ("Plaats", "city"), ("Land", "country"),
    ("E-mail", "email"), ("Btw-nummer", "taxnumber"), ("Omschrijving", "description"),
    ("Totaal excl. btw", "totalextax"), ("Btw", "tax"), ("Totaal incl. btw", "totalintax"),
    ("Openstaand", "open"), ("Betaaldatum", "paiddate"),
    ("Laatste herinnering", "lastreminder"), ("Status", "status"), ("Referentie", "reference"),
]
# The client details an invoice keeps as they were when it was sent (Invoice.cs).
_SNAPSHOT = ["clientnr", "company", "contact", "address", "zipcode", "city", "country", "phone",
             "mobile", "email", "taxnumber"]
# How the dashboard shows the API's codes (inferred).
_LABELS = {
    "sendmethod": {"email": "E-mail", "mail": "Post"},
    "paymentmethod": {"bank": "Bankoverschrijving", "autocollect": "Automatische incasso"},
    "collecttype": {"none": ""}, "taxtype": {"extax": "Exclusief btw"},
    "defaultdoclang": {"nl": "Nederlands"},
    "status": {"paid": "Betaald", "open": "Open", "late": "Te laat"},
}


def write(business: Business, out: Path) -> list[Path]:
    """Write every FactuurSturen export of the business into ``out`` and return the files."""
    out.mkdir(parents=True, exist_ok=True)
    invoices = [i for i in business.invoices if i.service == SERVICE]
    clients = {c.number: _client(business, c, invoices) for c in business.clients_of(SERVICE)}
    bills = [_invoice(business, i, clients[i.client_number]) for i in invoices]
    files = {
        "klanten.csv": _csv(clients.values(), CLIENT_COLUMNS, "cp1252", blank_tail=True),
        "klanten.xlsx": _xlsx(clients.values(), CLIENT_COLUMNS, "Klanten"),
        "facturen.csv": _csv(bills, INVOICE_COLUMNS, "utf-8-sig", blank_tail=False),
        "facturen.xlsx": _xlsx(bills, INVOICE_COLUMNS, "Facturen"),
        "api_clients.json": _json([_api_client(c) for c in clients.values()]),
        "api_invoices.json": _json([_api_invoice(b) for b in bills]),
    }
    paths = []
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths.append(out / name)
    return paths


# --------------------------------------------------------------------------------------------
# one record per client and invoice, with Python values


def _client(business: Business, client: Client, invoices: list[Invoice]) -> dict[str, object]:
    person = business.as_typed(client, SERVICE)
    rng = business.rng(SERVICE, "client", client.number)
    on_mobile = rng.random() < 0.7
    iban = person.iban if rng.random() < 0.85 else ""
    collect = bool(iban) and rng.random() < 0.2
    dates = [i.date for i in invoices if i.client_number == client.number]
    return {
        "clientnr": client.number, "contact": person.full_name, "showcontact": bool(client.company),
        "company": client.company, "address": person.address, "zipcode": person.postcode,
        "city": person.city, "country": "Nederland",
        "phone": "" if on_mobile else person.phone, "mobile": person.phone if on_mobile else "",
        "email": person.email, "bankcode": iban, "biccode": person.bic if iban else "",
        "taxnumber": client.vat, "taxshifted": client.kind == "company" and rng.random() < 0.1,
        "lastinvoice": max(dates, default=None),
        "sendmethod": "email" if person.email else "mail",
        "paymentmethod": "autocollect" if collect else "bank",
        "top": 30 if client.kind == "company" else 14,
        "stddiscount": 5 if client.kind == "company" and rng.random() < 0.2 else 0,
        "mailintro": f"Beste {person.given_name}," if rng.random() < 0.8 else "",
        "reference": f"PO-{rng.randrange(1000, 9999)}" if client.kind == "company" else "",
        "notes": rng.choice(_NOTES) if rng.random() < 0.15 else "",
        "notesoninvoice": False, "active": rng.random() < 0.95, "defaultdoclang": "nl",
        "currency": "EUR", "mandateid": f"FS{client.number:06d}" if collect else "",
        "mandatedate": client.since if collect else None,
        "collecttype": "RCUR" if collect else "none", "taxtype": "extax",
        "timestamp": _FIXED - timedelta(days=rng.randrange(1, 400), minutes=rng.randrange(1440)),
    }


def _invoice(business: Business, invoice: Invoice, client: dict[str, object]) -> dict[str, object]:
    rng = business.rng(SERVICE, "invoice", invoice.number)
    paid = invoice.date + timedelta(days=rng.randrange(1, 20)) if invoice.status == "paid" else None
    return {
        **{key: client[key] for key in _SNAPSHOT},
        "invoicenr": invoice.number, "sent": invoice.date, "duedate": invoice.due_date,
        "description": invoice.description, "totalextax": invoice.amount_excl,
        "tax": invoice.vat_amount, "totalintax": invoice.amount_incl,
        "open": Decimal("0.00") if paid else invoice.amount_incl, "paiddate": paid,
        "lastreminder": invoice.due_date + timedelta(days=7) if invoice.status == "late" else None,
        "status": invoice.status, "reference": client["reference"],
        "collection": client["paymentmethod"] == "autocollect", "top": client["top"],
    }


# --------------------------------------------------------------------------------------------
# the dashboard exports


def _dutch(key: str, value: object) -> str:
    """A value as the Dutch dashboard writes it in a CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ja" if value else "Nee"
    if isinstance(value, datetime):
        return f"{value:%d-%m-%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d-%m-%Y}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return _LABELS.get(key, {}).get(str(value), str(value))


def _csv(records: Iterable[dict[str, object]], columns: list[tuple[str, str]], encoding: str,
         blank_tail: bool) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow([label for label, _ in columns])
    writer.writerows([_dutch(key, r[key]) for _, key in columns] for r in records)
    return (text.getvalue() + ("\r\n" if blank_tail else "")).encode(encoding)


def _cell(key: str, value: object) -> object:
    """A value as an Excel cell: dates as date cells, amounts as numbers, empty as no cell."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | int) and not isinstance(value, bool):
        return value
    return _dutch(key, value) or None


def _xlsx(records: Iterable[dict[str, object]], columns: list[tuple[str, str]], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append([label for label, _ in columns])
    for record in records:
        sheet.append([_cell(key, record[key]) for _, key in columns])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "dd-mm-yyyy hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "dd-mm-yyyy"
            elif isinstance(cell.value, float):
                cell.number_format = "#,##0.00"
    book.properties.creator = "FactuurSturen"
    return xlsx_bytes(book)


# --------------------------------------------------------------------------------------------
# the API dumps


def _api(value: object) -> object:
    """A value as the API sends it: numbers, dates and most booleans as strings."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _api_client(client: dict[str, object]) -> dict[str, object]:
    fields = {key: _api(client[key]) for _, key in CLIENT_COLUMNS if key != "reference"}
    # Client.cs reads taxshifted and notesoninvoice as JSON booleans, the rest as strings.
    fields.update(taxshifted=client["taxshifted"], notesoninvoice=client["notesoninvoice"],
                  reference={"line1": client["reference"], "line2": "", "line3": ""},
                  defaultemail=0, defaultcategory="")
    return fields


def _api_invoice(bill: dict[str, object]) -> dict[str, object]:
    number = str(bill["invoicenr"])
    token = hashlib.sha256(number.encode()).hexdigest()[:24]
    history = {} if bill["paiddate"] is None else {"1": {
        "date": _api(bill["paiddate"]), "time": "09:30", "description": "Betaling ontvangen",
        "amount": _api(bill["totalintax"])}}
    line = {"amount": "1", "amount_desc": "", "description": bill["description"],
            "tax_rate": "21", "price": _api(bill["totalextax"]), "discountpct": "0",
            "linetotal": _api(bill["totalextax"])}
    return {
        "id": number.split("-")[-1].lstrip("0"), "invoicenr_full": number, "invoicenr": number,
        "reference": {"line1": bill["reference"], "line2": "", "line3": ""},
        "lines": {"line1": line}, "profile": "1", "discounttype": "amount", "discount": "0.00",
        "paymentperiod": str(bill["top"]), "collection": "1" if bill["collection"] else "0",
        "tax": _api(bill["tax"]), "totalintax": _api(bill["totalintax"]),
        **{key: _api(bill[key]) for key in _SNAPSHOT},
        "invoicenote": "", "sent": _api(bill["sent"]), "uncollectible": None,
        "lastreminder": _api(bill["lastreminder"]), "open": _api(bill["open"]),
        "paiddate": _api(bill["paiddate"]),
        "payment_url": f"https://www.factuursturen.nl/pay/{token}",
        "duedate": _api(bill["duedate"]), "history": history,
    }


def _json(records: list[dict[str, object]]) -> bytes:
    return (json.dumps(records, indent=2, ensure_ascii=True) + "\n").encode("ascii")
