"""The demo business's Mollie exports, written the way Mollie writes them.

* ``mollie-settlements.csv``: payments / settlement CSV; comma, UTF-8 with BOM, English headers,
  ``YYYY-MM-DD HH:MM:SS`` dates, amounts like ``1,210.50``; refund and chargeback rows, fee rows
  without an ID, PayPal payers' e-mail addresses in ``Consumer bank account``;
* ``statement-business-account.csv`` and ``.xml``: the Business Account bank statement as CSV
  (``DD-MM-YYYY``, ``2,067.08``) and as CAMT.053;
* ``settlements.mt940``: the settlements as MT940, CRLF, ``:86:`` cut every 66 characters
  mid-token like the real file;
* ``credit-card-mandates.csv``: the mandate export for a few card clients, with test card
  numbers (4242 4242 4242 ...) that pass the Luhn check;
* ``api-payments.json`` (an API page, HAL) and ``api-customers.json`` (a plain list).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from workbench.demo import TODAY, Business, Client, Payment, Person
from workbench.text import fold

SERVICE = "mollie"
MOLLIE_ACCOUNT = "NL30ABNA0524590957"  # the Mollie account in the real MT940 file
OWN_IBAN = "NL02ABNA0123456789"  # the firm's Mollie Business Account
OWN_NAME = "Demo ICT B.V."
SUPPLIERS = [("Hetzner Online GmbH", "DE89370400440532013000", 49.0),
             ("KPN B.V.", "NL91ABNA0417164300", 86.5),
             ("Microsoft Ireland Operations Ltd", "", 312.4)]  # a card payment has no IBAN
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
PAYMENTS_HEADER = ["Date", "Payment method", "Currency", "Amount", "Status", "ID", "Description",
                   "Consumer name", "Consumer bank account", "Consumer BIC", "Settlement currency",
                   "Settlement amount", "Settlement reference", "Amount refunded"]
STATEMENT_HEADER = ["TRANSACTION_DATE", "PAYMENT_TYPE", "ENTRY_TYPE", "COUNTERPARTY",
                    "COUNTERPARTY_IBAN", "STATUS", "DESCRIPTION", "REFERENCE", "AMOUNT",
                    "CURRENCY", "BEFORE_BALANCE", "AFTER_BALANCE"]


def write(business: Business, out: Path) -> list[Path]:
    """Write every Mollie export of the business into ``out`` and return the files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    demo = _Demo(business)
    files = {
        "mollie-settlements.csv": demo.settlements_csv().encode("utf-8-sig"),
        "statement-business-account.csv": demo.statement_csv().encode("utf-8"),
        "statement-business-account.xml": demo.statement_camt(),
        "settlements.mt940": demo.mt940().encode("ascii"),
        "credit-card-mandates.csv": demo.mandates_csv().encode("utf-8"),
        "api-payments.json": demo.payments_json().encode("utf-8"),
        "api-customers.json": demo.customers_json().encode("utf-8"),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    return [out / name for name in files]


def luhn_digit(digits: str) -> str:
    """The check digit that makes ``digits`` + it pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def _money(amount: Decimal | float) -> str:
    return f"{amount:,.2f}"


def _ascii(text: str) -> str:
    """SWIFT MT940 text has no accents."""
    return fold(text)


class _Demo:
    def __init__(self, business: Business) -> None:
        self.business = business
        self.clients = {c.number: c for c in business.clients_of(SERVICE)}
        self.payments = [p for p in business.payments if p.client_number in self.clients]
        rng = business.rng(SERVICE, "ids")
        self.customer_ids = {n: "cst_" + "".join(rng.choice(_ALPHABET) for _ in range(10))
                             for n in self.clients}
        self.refunds = {p.id: "re_" + "".join(rng.choice(_ALPHABET) for _ in range(10))
                        for p in self.payments if p.status == "refunded"}
        card = [p for p in self.payments if p.method == "creditcard" and p.status == "paidout"]
        self.chargeback = {p.id: "chb_" + "".join(rng.choice(_ALPHABET) for _ in range(8))
                           for p in card[:1]}
        self.cards = {p.client_number: self._pan(p.client_number) for p in card}

    # the people as Mollie has them

    def person(self, client: Client) -> Person:
        return self.business.as_typed(client, SERVICE)

    def consumer(self, payment: Payment) -> tuple[str, str, str]:
        """Consumer name, account (IBAN or a PayPal e-mail address) and BIC of a payment."""
        client = self.clients[payment.client_number]
        person = self.person(client)
        if payment.status in ("failed", "expired"):
            return "", "", ""
        name = client.company if client.kind == "company" else person.full_name
        if payment.method == "creditcard":
            return person.full_name, "", ""
        if payment.method == "paypal":
            return person.full_name, person.email, ""
        return name, person.iban, person.bic

    def _pan(self, number: int) -> str:
        rng = self.business.rng(SERVICE, "card", number)
        body = "424242424242" + "".join(rng.choice("0123456789") for _ in range(3))
        return body + luhn_digit(body)

    # payments / settlement CSV

    def settlements_csv(self) -> str:
        rows = []
        for p in self.payments:
            name, account, bic = self.consumer(p)
            settled = p.status in ("paidout", "refunded")
            amount = _money(p.amount)
            rows.append([f"{p.created:%Y-%m-%d %H:%M:%S}", p.method, "EUR", amount, p.status, p.id,
                         p.description, name, account, bic, "EUR" if settled else "",
                         f"{p.amount:.2f}" if settled else "", p.settlement if settled else "",
                         _money(p.amount) if p.status == "refunded" else ""])
            for ref, method, status in [(self.refunds.get(p.id), "refund", "refunded"),
                                        (self.chargeback.get(p.id), "chargeback", "charged_back")]:
                if ref:
                    later = p.created + timedelta(days=3)
                    rows.append([f"{later:%Y-%m-%d %H:%M:%S}", method, "EUR", "-" + amount, status,
                                 ref, f"{method.title()} {p.description}", name, account, bic, "EUR",
                                 f"-{p.amount:.2f}", p.settlement, amount])
        for settlement, when in self._recent_settlements():
            fee = Decimal("0.29") * sum(1 for p in self.payments if p.settlement == settlement)
            rows.append([f"{when:%Y-%m-%d} 00:00:00", "", "EUR", f"-{fee:.2f}", "paidout", "",
                         f"Withheld fees {settlement}", "", "", "", "EUR", f"-{fee:.2f}", settlement,
                         ""])
        rows.sort(key=lambda r: r[0])
        return _csv([PAYMENTS_HEADER, *rows])

    def _recent_settlements(self) -> list[tuple[str, date]]:
        """Settlements of the last year with the day after their last payment."""
        since = datetime.combine(TODAY - timedelta(days=365), datetime.min.time())
        last: dict[str, datetime] = {}
        for p in self.payments:
            if p.status == "paidout" and p.created >= since:
                last[p.settlement] = max(last.get(p.settlement, p.created), p.created)
        return sorted(((s, (d + timedelta(days=1)).date()) for s, d in last.items()),
                      key=lambda pair: (pair[1], pair[0]))

    # Business Account statement (CSV and CAMT.053)

    def statement_lines(self) -> list[dict]:
        """Bank transfers from clients in, refunds and suppliers out, with running balances."""
        since = datetime(2025, 1, 1)
        lines = []
        for p in self.payments:
            if p.method != "banktransfer" or p.status not in ("paid", "paidout", "refunded") \
                    or p.created < since:
                continue
            name, iban, bic = self.consumer(p)
            lines.append({"date": p.created.date(), "amount": p.amount, "name": name, "iban": iban,
                          "bic": bic, "description": p.description, "reference": p.id})
            if p.id in self.refunds:
                lines.append({"date": p.created.date() + timedelta(days=3), "amount": -p.amount,
                              "name": name, "iban": iban, "bic": bic,
                              "description": f"Terugbetaling {p.description}",
                              "reference": self.refunds[p.id]})
        month = date(2025, 1, 1)
        while month < TODAY:
            for i, (name, iban, amount) in enumerate(SUPPLIERS):
                lines.append({"date": month + timedelta(days=i), "amount": -Decimal(str(amount)),
                              "name": name, "iban": iban, "bic": "", "reference": "NOTPROVIDED",
                              "description": f"Factuur {name.split()[0]} {month:%Y-%m}"})
            month = (month + timedelta(days=32)).replace(day=1)
        lines.sort(key=lambda line: (line["date"], line["reference"]))
        balance = Decimal("2067.08")
        for line in lines:
            line["before"], balance = balance, balance + line["amount"]
            line["after"] = balance
        return lines

    def statement_csv(self) -> str:
        rows = [[f"{x['date']:%d-%m-%Y}", "Transfer", "CREDIT" if x["amount"] > 0 else "DEBIT",
                 x["name"], x["iban"], "PROCESSED", x["description"],
                 "" if x["reference"] == "NOTPROVIDED" else x["reference"], _money(x["amount"]),
                 "EUR", _money(x["before"]), _money(x["after"])]
                for x in self.statement_lines()]
        return _csv([STATEMENT_HEADER, *rows])

    def statement_camt(self) -> bytes:
        lines = self.statement_lines()
        ET.register_namespace("", CAMT_NS)

        def sub(parent: ET.Element, path: str, text: str | None = None, **attrs: str) -> ET.Element:
            node = parent
            for name in path.split("/"):
                node = ET.SubElement(node, f"{{{CAMT_NS}}}{name}")
            node.attrib.update(attrs)
            node.text = text
            return node

        root = ET.Element(f"{{{CAMT_NS}}}Document")
        report = sub(root, "BkToCstmrStmt")
        header = sub(report, "GrpHdr")
        sub(header, "MsgId", f"STMT-{TODAY:%Y%m%d}")
        sub(header, "CreDtTm", f"{TODAY:%Y-%m-%d}T06:00:00")
        stmt = sub(report, "Stmt")
        sub(stmt, "Id", f"{OWN_IBAN}-{TODAY:%Y%m%d}")
        sub(stmt, "CreDtTm", f"{TODAY:%Y-%m-%d}T06:00:00")
        sub(stmt, "Acct/Id/IBAN", OWN_IBAN)
        sub(stmt, "Acct/Ownr/Nm", OWN_NAME)
        for code, amount in [("OPBD", lines[0]["before"]), ("CLBD", lines[-1]["after"])]:
            balance = sub(stmt, "Bal")
            sub(balance, "Tp/CdOrPrtry/Cd", code)
            sub(balance, "Amt", f"{abs(amount):.2f}", Ccy="EUR")
            sub(balance, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
            sub(balance, "Dt/Dt", f"{TODAY:%Y-%m-%d}")
        for i, line in enumerate(lines, 1):
            self._camt_entry(sub, stmt, i, line)
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"

    @staticmethod
    def _camt_entry(sub, stmt: ET.Element, i: int, line: dict) -> None:
        credit = line["amount"] > 0
        entry = sub(stmt, "Ntry")
        sub(entry, "Amt", f"{abs(line['amount']):.2f}", Ccy="EUR")
        sub(entry, "CdtDbtInd", "CRDT" if credit else "DBIT")
        sub(entry, "Sts", "BOOK")
        sub(entry, "BookgDt/Dt", f"{line['date']:%Y-%m-%d}")
        sub(entry, "ValDt/Dt", f"{line['date']:%Y-%m-%d}")
        sub(entry, "AcctSvcrRef", f"MOL{line['date']:%Y%m%d}{i:05d}")
        tx = sub(entry, "NtryDtls/TxDtls")
        sub(tx, "Refs/EndToEndId", line["reference"])
        sub(tx, "AmtDtls/TxAmt/Amt", f"{abs(line['amount']):.2f}", Ccy="EUR")
        parties = sub(tx, "RltdPties")
        them = "Dbtr" if credit else "Cdtr"
        for role in ("Dbtr", "Cdtr"):  # ISO order: the debtor first
            name, iban = (line["name"], line["iban"]) if role == them else (OWN_NAME, OWN_IBAN)
            sub(parties, f"{role}/Nm", name)
            if iban:
                sub(parties, f"{role}Acct/Id/IBAN", iban.replace(" ", ""))
        if line["bic"]:
            sub(tx, f"RltdAgts/{them}Agt/FinInstnId/BIC", line["bic"])
        remittance = sub(tx, "RmtInf")
        text = line["description"]  # a longer text comes in several Ustrd pieces
        for piece in text.split(" ", 1) if len(text) > 24 else [text]:
            sub(remittance, "Ustrd", piece)

    # MT940

    def mt940(self) -> str:
        by_settlement: dict[str, list[tuple[Payment, str, Decimal]]] = {}
        for p in self.payments:
            if p.status in ("paidout", "refunded"):
                by_settlement.setdefault(p.settlement, []).append((p, p.id, p.amount))
                if p.id in self.refunds:
                    by_settlement[p.settlement].append((p, self.refunds[p.id], -p.amount))
        out: list[str] = []
        for number, (_, items) in enumerate(sorted(by_settlement.items()), 1):
            day = max(p.created for p, _, _ in items).date() + timedelta(days=1)
            total = sum(amount for _, _, amount in items)
            out += [f":20:940A{day:%y%m%d}", f":25:{MOLLIE_ACCOUNT}", f":28C:{number}/1",
                    f":60F:C{day:%y%m%d}EUR0,00"]
            for p, ref, amount in items:
                out.append(f":61:{p.created:%y%m%d}{day:%m%d}{'C' if amount > 0 else 'D'}"
                           f"{abs(amount):.2f}NMSC".replace(".", ","))
                out += _wrap(":86:" + self._details(p, ref))
            mark = "C" if total >= 0 else "D"
            out.append(f":62F:{mark}{day:%y%m%d}EUR{abs(total):.2f}".replace(".", ","))
        return "\r\n".join(out) + "\r\n"

    def _details(self, payment: Payment, ref: str) -> str:
        name, account, bic = self.consumer(payment)
        parts = ["/TRTP/SEPA OVERBOEKING"]
        if account and "@" not in account:
            parts.append(f"/IBAN/{account.replace(' ', '')}/BIC/{bic}")
        parts.append(f"/NAME/{_ascii(name)}/REMI/{_ascii(payment.description)}/EREF/{ref}")
        return "".join(parts)

    # credit-card mandates

    def mandates_csv(self) -> str:
        rng = self.business.rng(SERVICE, "mandates")
        lines = ["old_customer_id,card_number,card_exp_month,card_exp_year,transaction_id,name"]
        for number, pan in sorted(self.cards.items())[:6]:
            holder = self.person(self.clients[number]).full_name.replace('"', '""')
            mandate = "mdt_" + "".join(rng.choice(_ALPHABET) for _ in range(10))
            lines.append(f"{mandate},{pan},{rng.randrange(1, 13)},{rng.randrange(2027, 2032)},"
                         f"{rng.randrange(10**14, 10**15)},\"{holder}\"")
        return "\n".join(lines) + "\n"

    # API dumps

    def payments_json(self) -> str:
        objects = [self._payment_object(p) for p in self.payments]
        page = {"count": len(objects), "_embedded": {"payments": objects},
                "_links": {"documentation": {"href": "https://docs.mollie.com/reference/list-payments",
                                             "type": "text/html"},
                           "self": {"href": "https://api.mollie.com/v2/payments?limit=250",
                                    "type": "application/hal+json"},
                           "previous": None, "next": None}}
        return json.dumps(page, indent=2, ensure_ascii=False) + "\n"

    def _payment_object(self, p: Payment) -> dict:
        client = self.clients[p.client_number]
        rng = self.business.rng(SERVICE, "payment", p.id)
        obj: dict = {
            "resource": "payment", "id": p.id, "mode": "live",
            "createdAt": _utc(p.created),
            "amount": {"value": f"{p.amount:.2f}", "currency": "EUR"},
            "description": p.description, "method": p.method,
            "metadata": {"client_number": str(p.client_number)}, "status": p.status,
            "profileId": "pfl_QkEhN94Ba", "sequenceType": "oneoff",
            "redirectUrl": f"https://example.nl/betaald/{p.id}",
        }
        if rng.random() < 0.1:  # merchants put personal data in metadata too
            obj["metadata"]["email"] = self.person(client).email
        if rng.random() < 0.8:
            obj["customerId"] = self.customer_ids[p.client_number]
        if p.status in ("paidout", "refunded", "paid"):
            obj["paidAt"] = _utc(p.created + timedelta(minutes=2))
            obj["details"] = self._payment_details(p)
        if p.status in ("paidout", "refunded"):
            obj["settlementId"] = "stl_" + p.settlement.replace(".", "")
        if p.id in self.refunds:
            obj["amountRefunded"] = {"value": f"{p.amount:.2f}", "currency": "EUR"}
        obj["_links"] = {"self": {"href": f"https://api.mollie.com/v2/payments/{p.id}",
                                  "type": "application/hal+json"}}
        return obj

    def _payment_details(self, p: Payment) -> dict:
        name, account, bic = self.consumer(p)
        if p.method == "creditcard":
            pan = self.cards.get(p.client_number, self._pan(p.client_number))
            return {"cardHolder": name, "cardNumber": pan[-4:], "cardLabel": "Visa",
                    "cardFingerprint": "fp_" + pan[-8:], "cardCountryCode": "NL",
                    "cardAudience": "consumer", "cardSecurity": "3dsecure",
                    "feeRegion": "intra-eu"}
        if p.method == "paypal":
            return {"consumerName": name, "consumerAccount": account,
                    "paypalReference": "9AL" + p.id[3:], "paypalPayerId": "WDJJHEBZ" + p.id[-4:]}
        details = {"consumerName": name, "consumerAccount": account, "consumerBic": bic}
        if p.method == "banktransfer":
            email = self.person(self.clients[p.client_number]).email
            details |= {"bankName": "Stichting Mollie Payments", "bankAccount": MOLLIE_ACCOUNT,
                        "bankBic": "ABNANL2A", "transferReference": f"RF26-{p.id[3:7]}-{p.id[7:]}",
                        "billingEmail": email}
        if p.method == "directdebit":
            details |= {"signatureDate": f"{p.created:%Y-%m-%d}",
                        "mandateReference": f"DD-{p.client_number}"}
        return details

    def customers_json(self) -> str:
        customers = []
        for number, client in self.clients.items():
            person = self.person(client)
            customers.append({
                "resource": "customer", "id": self.customer_ids[number], "mode": "live",
                "name": client.company if client.kind == "company" else person.full_name,
                "email": person.email or None, "locale": "nl_NL",
                "metadata": {"klantnummer": number} if number % 3 else None,
                "createdAt": f"{client.since:%Y-%m-%d}T09:00:00+00:00",
                "_links": {"self": {"href": f"https://api.mollie.com/v2/customers/"
                                            f"{self.customer_ids[number]}",
                                    "type": "application/hal+json"}},
            })
        return json.dumps(customers, indent=2, ensure_ascii=False) + "\n"


def _wrap(line: str, width: int = 66) -> list[str]:
    """An MT940 ``:86:`` field cut the way Mollie cuts it: ``width`` characters of content per
    line, in the middle of a word if need be (the real file has 66 after the tag)."""
    tag, content = line[:4], line[4:]
    return [tag + content[:width]] + [content[i:i + width] for i in range(width, len(content), width)]


def _utc(moment: datetime) -> str:
    """The API's timestamps: the Dutch wall-clock time of the demo as UTC."""
    local = moment.replace(tzinfo=ZoneInfo("Europe/Amsterdam"))
    return local.astimezone(UTC).isoformat()


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
