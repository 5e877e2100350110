"""The demo business's XAF 3.2 auditfile, as a bookkeeping package writes it for one fiscal year:
the relations (``customersSuppliers``), a small ledger, and a sales journal plus a bank journal
whose lines point at the relations. MoneyBird and Exact Online write theirs through here.

The file is valid against the official XAF 3.2 schema (the tests check it), so values are cut to
the schema's lengths as a package would. On request it also holds the opening balance and the
debtors' subledger (open items at the start of the year and the year's invoices and payments),
and it is written in another version: 3.1, 3.2.1 or 4.0, which drop or rename what the
Belastingdienst's revision documents say they do (4.0: no contact, phone, website or bank
account on a relation, no subledgers; the counterparty's account on the line is
``offsetBankAccNr``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

from dateutil.relativedelta import relativedelta

from workbench.demo import TODAY, Business, Client, Invoice, Person
from workbench.ingest.sources._xaf import VERSIONS

NAMESPACE = "http://www.auditfiles.nl/XAF/3.2"
NAMESPACES = {version: namespace for namespace, version in VERSIONS.items()}
# What each version lacks of 3.2, as paths below the company, and what it renames.
_DROPPED = {
    "3.1": ["customersSuppliers/customerSupplier/commerceNr"],
    "3.2": [], "3.2.1": [],
    "4.0": [*(f"customersSuppliers/customerSupplier/{name}" for name in (
                "contact", "telephone", "fax", "website", "relationshipID", "custSupGrpID",
                "custCreditLimit", "supplierLimit", "bankAccount", "postalAddress")),
            "periods/period/periodDesc", "openingBalance/opBalDate", "openingBalance/opBalDesc",
            "openingBalance/obSubledgers", "transactions/subledgers",
            "transactions/journal/transaction/trLine/bankIdCd"],
}
_RENAMED = {"4.0": {"companyIdent": "Commercenr",
                    "transactions/journal/transaction/trLine/bankAccNr": "offsetBankAccNr"}}
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
              invoices: list[Invoice], software_desc: str, *, encoding: str = "UTF-8",
              version: str = "3.2", subledgers: bool = False) -> Path:
    """Write the auditfile of fiscal year ``TODAY.year`` for ``clients`` (as ``service`` has
    them typed) and those of ``invoices`` dated in that year; paid invoices also get a bank line
    whose description names the payer, as bank imports do. ``subledgers`` adds the opening
    balance (the earlier years' unpaid invoices as open items) and the debtors' subledger."""
    year = TODAY.year
    root = ET.Element("auditfile", xmlns=NAMESPACES[version])
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
    if subledgers:
        _opening_balance(company, [i for i in invoices if i.date.year < year and i.status != "paid"])
    _transactions(company, business, service, in_year)
    if subledgers:
        _subledger(company.find("transactions"), in_year)
    _as_version(company, version)
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
        end = start + relativedelta(day=31)  # the month's last day
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


def _opening_balance(company: ET.Element, open_items: list[Invoice]) -> None:
    """The debtors' balance at the start of the year against equity, and the unpaid invoices of
    earlier years behind it as open items."""
    total = sum((i.amount_incl for i in open_items), Decimal("0"))
    balance = ET.SubElement(company, "openingBalance")
    _fields(balance, {"opBalDate": f"{TODAY.year}-01-01", "opBalDesc": "Beginbalans",
                      "linesCount": "2", "totalDebit": _amount(total), "totalCredit": _amount(total)})
    for nr, (account, side) in enumerate([("1300", "D"), ("0500", "C")], start=1):
        _fields(ET.SubElement(balance, "obLine"), {"nr": str(nr), "accID": account,
                                                   "amnt": _amount(total), "amntTp": side})
    ledger = ET.SubElement(ET.SubElement(balance, "obSubledgers"), "obSubledger")
    _fields(ledger, {"sbType": "CU", "sbDesc": "Debiteuren", "linesCount": str(len(open_items)),
                     "totalDebit": _amount(total), "totalCredit": "0.00"})
    for nr, invoice in enumerate(open_items, start=1):
        _fields(ET.SubElement(ledger, "obSbLine"), {
            "nr": str(nr), "obLineNr": "1", "desc": invoice.description,
            "amnt": _amount(invoice.amount_incl), "amntTp": "D", "docRef": invoice.number,
            "custSupID": str(invoice.client_number), "invRef": invoice.number,
            "invPurSalTp": "S", "invTp": "D", "invDt": invoice.date.isoformat(),
            "invDueDt": (invoice.date + timedelta(days=30)).isoformat(), "mutTp": "I"})
    company.find("generalLedger").append(_account("0500", "Eigen vermogen", "B"))
    # the schema's order: the opening balance comes before the transactions
    company.remove(balance)
    company.insert(list(company).index(company.find("periods")) + 1, balance)


def _account(acc_id: str, desc: str, acc_type: str) -> ET.Element:
    account = ET.Element("ledgerAccount")
    _fields(account, {"accID": acc_id, "accDesc": desc, "accTp": acc_type})
    return account


def _subledger(transactions: ET.Element, invoices: list[Invoice]) -> None:
    """The debtors' subledger: each sales journal line on account 1300 (an invoice or a
    payment) as a subledger line pointing back at it."""
    ledger = ET.SubElement(ET.SubElement(transactions, "subledgers"), "subledger")
    numbers = {i.number: i for i in invoices}
    lines = [(journal.findtext("jrnID"), transaction, line)
             for journal in transactions.iter("journal") for transaction in journal.iter("transaction")
             for line in transaction.iter("trLine") if line.findtext("accID") == "1300"]
    debit = sum((Decimal(t.findtext("amnt")) for _, _, t in lines if t.findtext("amntTp") == "D"),
                Decimal("0"))
    credit = sum((Decimal(t.findtext("amnt")) for _, _, t in lines if t.findtext("amntTp") == "C"),
                 Decimal("0"))
    _fields(ledger, {"sbType": "CU", "sbDesc": "Debiteuren", "linesCount": str(len(lines)),
                     "totalDebit": _amount(debit), "totalCredit": _amount(credit)})
    for nr, (journal, transaction, line) in enumerate(lines, start=1):
        invoice = numbers[line.findtext("invRef")]
        payment = line.findtext("amntTp") == "C"
        _fields(ET.SubElement(ledger, "sbLine"), {
            "nr": str(nr), "jrnID": journal, "trNr": transaction.findtext("nr"),
            "trLineNr": line.findtext("nr"), "desc": line.findtext("desc"),
            "amnt": line.findtext("amnt"), "amntTp": line.findtext("amntTp"),
            "docRef": invoice.number, "custSupID": line.findtext("custSupID"),
            "invRef": invoice.number, "invPurSalTp": "S", "invTp": "D",
            "invDt": invoice.date.isoformat(),
            "invDueDt": (invoice.date + timedelta(days=30)).isoformat(),
            "mutTp": "P" if payment else "I"})


def _as_version(company: ET.Element, version: str) -> None:
    """Drop what ``version`` lacks of 3.2 and rename what it names otherwise."""
    for path in _DROPPED[version]:
        parent_path, _, name = path.rpartition("/")
        for parent in company.findall(parent_path) if parent_path else [company]:
            for element in parent.findall(name):
                parent.remove(element)
    for path, new in _RENAMED.get(version, {}).items():
        for element in company.findall(path):
            element.tag = new
