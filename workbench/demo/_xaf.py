"""The demo business's XAF 3.2 auditfile, as a bookkeeping package writes it for one fiscal year:
the relations (``customersSuppliers``), a small ledger, and a sales journal plus a bank journal
whose lines point at the relations. MoneyBird and Exact Online write theirs through here.

The file is valid against the official XAF 3.2 schema (the tests check it), so values are cut to
the schema's lengths as a package would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

from workbench.demo import TODAY, Business, Client, Invoice, Person

NAMESPACE = "http://www.auditfiles.nl/XAF/3.2"
FIRM = {"companyIdent": "70123456", "companyName": "Voorbeeld ICT B.V.",
        "taxRegistrationCountry": "NL", "taxRegIdent": "NL858123456B01"}
FIRM_ADDRESS = {"streetname": "Stationsplein", "number": "12", "city": "Utrecht",
                "postalCode": "3511 ED", "country": "NL"}
FIRM_IBAN = "NL44RABO0123456789"
LEDGER = [("1100", "Bank", "B"), ("1300", "Debiteuren", "B"), ("1600", "Te betalen btw", "B"),
          ("8000", "Omzet dienstverlening", "P")]
VAT_ID = "H21"


@dataclass
class _Totals:
    lines: int = 0
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")


def write_xaf(path: Path, business: Business, service: str, clients: list[Client],
              invoices: list[Invoice], software_desc: str, *, encoding: str = "UTF-8") -> Path:
    """Write the auditfile of fiscal year ``TODAY.year`` for ``clients`` (as ``service`` has
    them typed) and those of ``invoices`` dated in that year; paid invoices also get a bank line
    whose description names the payer, as bank imports do."""
    year = TODAY.year
    root = ET.Element("auditfile", xmlns=NAMESPACE)
    _fields(ET.SubElement(root, "header"), {
        "fiscalYear": str(year), "startDate": f"{year}-01-01", "endDate": f"{year}-12-31",
        "curCode": "EUR", "dateCreated": TODAY.isoformat(), "softwareDesc": software_desc[:50],
        "softwareVersion": f"{TODAY:%Y.%m}",
    })
    company = ET.SubElement(root, "company")
    _fields(company, FIRM)
    _fields(ET.SubElement(company, "streetAddress"), FIRM_ADDRESS)
    relations = ET.SubElement(company, "customersSuppliers")
    for client in clients:
        _relation(ET.SubElement(relations, "customerSupplier"), business, service, client)
    _ledger(company)
    in_year = [i for i in invoices if i.date.year == year]
    _transactions(company, business, service, in_year)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding=encoding, xml_declaration=True)
    return path


def _fields(parent: ET.Element, values: dict[str, str]) -> None:
    """Child elements in the given order; empty values are left out as packages do."""
    for name, value in values.items():
        if value:
            ET.SubElement(parent, name).text = value


def _relation(element: ET.Element, business: Business, service: str, client: Client) -> None:
    person = business.as_typed(client, service)
    number, extension = re.match(r"(\d*)\s*-?\s*(.*)", person.house_number).groups()
    _fields(element, {
        "custSupID": str(client.number), "custSupName": client.display_name[:50],
        "contact": person.full_name[:50] if client.company else "",
        "telephone": person.phone[:30], "eMail": person.email, "commerceNr": client.kvk,
        "taxRegistrationCountry": "NL" if client.vat else "", "taxRegIdent": client.vat,
        "custSupTp": "C",
    })
    _fields(ET.SubElement(element, "streetAddress"), {
        "streetname": person.street, "number": number[:15], "numberExtension": extension,
        "city": person.city[:50], "postalCode": person.postcode[:10], "country": person.country,
    })
    _fields(ET.SubElement(element, "bankAccount"), {"bankAccNr": person.iban, "bankIdCd": person.bic})


def _ledger(company: ET.Element) -> None:
    ledger = ET.SubElement(company, "generalLedger")
    for acc_id, desc, acc_type in LEDGER:
        _fields(ET.SubElement(ledger, "ledgerAccount"),
                {"accID": acc_id, "accDesc": desc, "accTp": acc_type})
    vat = ET.SubElement(ET.SubElement(company, "vatCodes"), "vatCode")
    _fields(vat, {"vatID": VAT_ID, "vatDesc": "Btw hoog 21%", "vatToPayAccID": "1600"})
    periods = ET.SubElement(company, "periods")
    for month in range(1, 13):
        start = date(TODAY.year, month, 1)
        end = date(TODAY.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        _fields(ET.SubElement(periods, "period"), {
            "periodNumber": str(month), "periodDesc": f"{start:%m-%Y}",
            "startDatePeriod": start.isoformat(), "endDatePeriod": end.isoformat(),
        })


def _transactions(company: ET.Element, business: Business, service: str,
                  invoices: list[Invoice]) -> None:
    transactions = ET.SubElement(company, "transactions")
    counts = [ET.SubElement(transactions, name) for name in ("linesCount", "totalDebit", "totalCredit")]
    totals = _Totals()
    sales = ET.SubElement(transactions, "journal")
    _fields(sales, {"jrnID": "VK", "desc": "Verkoopboek", "jrnTp": "S"})
    bank = ET.SubElement(transactions, "journal")
    _fields(bank, {"jrnID": "BNK", "desc": "Bank", "jrnTp": "B", "bankAccNr": FIRM_IBAN})
    rng = business.rng("xaf", service)
    for invoice in invoices:
        client = business.client(invoice.client_number)
        _sales_entry(sales, invoice, client, totals)
        paid_on = invoice.date + timedelta(days=rng.randrange(1, 30))
        if invoice.status == "paid" and paid_on <= TODAY:
            _bank_entry(bank, invoice, client, business.as_typed(client, service), paid_on, totals)
    for element, value in zip(counts, (str(totals.lines), _amount(totals.debit),
                                       _amount(totals.credit)), strict=True):
        element.text = value


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _entry(journal: ET.Element, nr: str, desc: str, day: date, amount: Decimal) -> ET.Element:
    transaction = ET.SubElement(journal, "transaction")
    _fields(transaction, {"nr": nr, "desc": desc, "periodNumber": str(day.month),
                          "trDt": day.isoformat(), "amnt": _amount(amount), "amntTp": "D"})
    return transaction


def _line(transaction: ET.Element, totals: _Totals, values: dict[str, str], amount: Decimal,
          debit: bool) -> ET.Element:
    """A journal line; ``values`` holds the elements before and after ``amnt``/``amntTp``."""
    before = {k: values[k] for k in ("accID", "docRef", "effDate", "desc") if k in values}
    after = {k: v for k, v in values.items() if k not in before}
    line = ET.SubElement(transaction, "trLine")
    _fields(line, {"nr": str(len(transaction.findall("trLine"))), **before,
                   "amnt": _amount(amount), "amntTp": "D" if debit else "C", **after})
    totals.lines += 1
    if debit:
        totals.debit += amount
    else:
        totals.credit += amount
    return line


def _sales_entry(journal: ET.Element, invoice: Invoice, client: Client, totals: _Totals) -> None:
    day = invoice.date.isoformat()
    entry = _entry(journal, invoice.number, f"{invoice.number} {client.display_name}",
                   invoice.date, invoice.amount_incl)
    relation = str(client.number)
    _line(entry, totals, {"accID": "1300", "docRef": invoice.number, "effDate": day,
                          "desc": invoice.description, "custSupID": relation,
                          "invRef": invoice.number}, invoice.amount_incl, debit=True)
    revenue = _line(entry, totals, {"accID": "8000", "docRef": invoice.number, "effDate": day,
                                    "desc": invoice.description, "custSupID": relation},
                    invoice.amount_excl, debit=False)
    _fields(ET.SubElement(revenue, "vat"), {"vatID": VAT_ID, "vatPerc": "21.000",
                                            "vatAmnt": _amount(invoice.vat_amount), "vatAmntTp": "C"})
    _line(entry, totals, {"accID": "1600", "docRef": invoice.number, "effDate": day,
                          "desc": "Btw " + invoice.number}, invoice.vat_amount, debit=False)


def _bank_entry(journal: ET.Element, invoice: Invoice, client: Client, person: Person,
                day: date, totals: _Totals) -> None:
    payer = f"{person.given_name[:1]}. {person.family}"  # as the bank statement names the payer
    desc = f"Betaling {payer} factuur {invoice.number}"
    entry = _entry(journal, f"B{invoice.number}", desc, day, invoice.amount_incl)
    common = {"docRef": invoice.number, "effDate": day.isoformat(), "desc": desc}
    _line(entry, totals, {"accID": "1100", **common}, invoice.amount_incl, debit=True)
    _line(entry, totals, {"accID": "1300", **common, "custSupID": str(client.number),
                          "invRef": invoice.number, "bankAccNr": person.iban.replace(" ", "")},
          invoice.amount_incl, debit=False)
