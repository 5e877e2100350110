"""The real API dumps of the research corpus (Mollie, MoneyBird, Exact Online) import into a
fresh workspace, and their personal data lands in the right canonical fields.

Every expected value is read from the JSON file itself in the test, never from our output. The
tests skip when ``../shared`` is not next to the repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_file

from workbench.store.workspace import Workspace


def _load(path: Path) -> object:
    """The file as plain JSON, every number as written (utf-8-sig: Exact's dumps have a BOM)."""
    return json.loads(path.read_text("utf-8-sig"), parse_float=Decimal, parse_int=str)


def _imported(path: Path, tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    [result] = ws.import_files([path])
    assert result.import_id is not None
    return ws


def _one(ws: Workspace, sql: str, params: list) -> dict:
    rows = ws.query(sql, params)
    assert len(rows) == 1, (sql, params, len(rows))
    return rows.iloc[0].to_dict()


def _fields(ws: Workspace) -> dict[str, str | None]:
    """The canonical field each original column of the (only) import fed."""
    rows = ws.query("SELECT name, field FROM columns").values.tolist()
    return {name: field if isinstance(field, str) else None for name, field in rows}


def _raw(ws: Workspace, column: str) -> list[str]:
    path = '$."' + column + '"'
    return ws.query("SELECT json_extract_string(record, ?) AS v FROM raw_records ORDER BY source_row",
                    [path])["v"].tolist()


def _dutch_clock(stamp: str) -> pd.Timestamp:
    """Mollie's ISO 8601 times as the Dutch wall clock the workbench keeps."""
    return pd.Timestamp(stamp).tz_convert("Europe/Amsterdam").tz_localize(None)


def _exact_date(value: str) -> pd.Timestamp:
    """Exact's /Date(ms)/ (midnight UTC of the calendar date) as that date."""
    ms = int(value.removeprefix("/Date(").removesuffix(")/"))
    return pd.Timestamp(datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None))


def _amount(value: object) -> float:
    return float(Decimal(str(value)))


def _postcode(value: str) -> str:
    """A Dutch postcode as the workbench normalises it (1234AB -> 1234 AB)."""
    digits, letters = value.replace(" ", "")[:4], value.replace(" ", "")[4:]
    return f"{digits} {letters.upper()}"


# --------------------------------------------------------------------------------------------
# Mollie API v2


def _hal(data: dict, name: str) -> list[dict]:
    assert int(data["count"]) == len(data["_embedded"][name])
    return data["_embedded"][name]


def test_mollie_payments_list(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-payments_list.json")
    payments = _hal(_load(path), "payments")
    ws = _imported(path, tmp_path)
    for payment in payments:
        doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [payment["id"]])
        assert doc["doc_type"] == "payment"
        assert float(doc["amount"]) == _amount(payment["amount"]["value"])
        assert doc["currency"] == payment["amount"]["currency"]
        assert doc["date"] == _dutch_clock(payment["createdAt"])
        assert (doc["description"], doc["status"]) == (payment["description"], payment["status"])
    # the merchant's order number is a JSON integer: it keeps its digits, no ".0"
    assert _raw(ws, "metadata.order_id") == [p["metadata"]["order_id"] for p in payments]
    assert _fields(ws)["metadata.order_id"] is None  # the merchant's own data, for review


def test_mollie_customers_list(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-customers_list.json")
    customers = _hal(_load(path), "customers")
    ws = _imported(path, tmp_path)
    for customer in customers:
        party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [customer["id"]])
        assert party["name"] == customer["name"]
        assert party["email"] == customer["email"].lower()
        assert party["customer_number"] == customer["id"]
    emails = ws.query("SELECT raw_value FROM identifiers WHERE kind = 'email'")["raw_value"]
    assert sorted(emails) == sorted(c["email"] for c in customers)


def _check_order(ws: Workspace, order: dict) -> str:
    """The billed person is the order's party; the shipping recipient is another person."""
    doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [order["id"]])
    assert (doc["doc_type"], doc["reference"]) == ("order", order["orderNumber"])
    assert float(doc["amount"]) == _amount(order["amount"]["value"])
    assert doc["date"] == _dutch_clock(order["createdAt"])
    bill = order["billingAddress"]
    party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [doc["party_key"]])
    assert (party["given_name"], party["family_name"]) == (bill["givenName"], bill["familyName"])
    assert party["email"] == bill["email"].lower()
    assert (party["street"], party["city"]) == (bill["streetAndNumber"], bill["city"])
    assert party["postcode"] == _postcode(bill["postalCode"])
    assert party["birth_date"] == pd.Timestamp(order["consumerDateOfBirth"])
    assert party["phone"] == bill["phone"]
    return doc["party_key"]


def _check_shipping_is_another_person(ws: Workspace, order: dict) -> None:
    ship = order["shippingAddress"]
    fields = _fields(ws)
    assert fields["shippingAddress.givenName"] == fields["shippingAddress.familyName"] == "other_name"
    assert fields["shippingAddress.email"] == "other_address"
    names = ws.query("SELECT given_name FROM parties")["given_name"].tolist()
    assert ship["givenName"] not in names


def test_mollie_orders_list(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-orders_list.json")
    orders = _hal(_load(path), "orders")
    ws = _imported(path, tmp_path)
    keys = {_check_order(ws, order) for order in orders}
    assert len(keys) == 1  # the same billed person on every order is one party
    _check_shipping_is_another_person(ws, orders[0])


def test_mollie_order_single_with_its_lines(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-order_single.json")
    order = _load(path)
    ws = _imported(path, tmp_path)
    party_key = _check_order(ws, order)
    _check_shipping_is_another_person(ws, order)
    for line in order["lines"]:
        doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [line["id"]])
        assert (doc["doc_type"], doc["description"]) == ("order_line", line["name"])
        assert float(doc["amount"]) == _amount(line["totalAmount"]["value"])
        assert doc["party_key"] == party_key  # a line belongs to the order's party
    assert _raw(ws, "embedded in")[1:] == [f"order {order['id']}"] * len(order["lines"])


def test_mollie_refund_single(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-refund_single.json")
    refund = _load(path)
    ws = _imported(path, tmp_path)
    doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [refund["id"]])
    assert doc["doc_type"] == "refund"
    assert float(doc["amount"]) == -_amount(refund["amount"]["value"])  # money going out
    assert (doc["description"], doc["reference"]) == (refund["description"], refund["settlementId"])
    assert doc["date"] == _dutch_clock(refund["createdAt"])
    [line] = refund["lines"]
    assert _one(ws, "SELECT doc_type FROM documents WHERE doc_key = ?", [line["id"]])["doc_type"] == (
        "order_line")
    assert _raw(ws, "metadata.bookkeeping_id")[0] == refund["metadata"]["bookkeeping_id"]


@pytest.mark.parametrize("name,resource", [("api-refunds_list.json", "refunds"),
                                           ("api-chargebacks_list.json", "chargebacks")])
def test_mollie_refunds_and_chargebacks_lists(tmp_path: Path, name: str, resource: str) -> None:
    path = shared_file(f"fixtures/real/mollie/{name}")
    objects = _hal(_load(path), resource)
    ws = _imported(path, tmp_path)
    for obj in objects:
        doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [obj["id"]])
        assert doc["doc_type"] == resource.removesuffix("s")
        assert float(doc["amount"]) == -_amount(obj["amount"]["value"])
        assert doc["currency"] == obj["amount"]["currency"]
        assert doc["date"] == _dutch_clock(obj["createdAt"])
    assert _raw(ws, "paymentId") == [o["paymentId"] for o in objects]


def test_mollie_customer_mandates_list(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-customer_mandates_list.json")
    [mandate] = _hal(_load(path), "mandates")
    ws = _imported(path, tmp_path)
    doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [mandate["id"]])
    assert (doc["doc_type"], doc["reference"]) == ("mandate", mandate["mandateReference"])
    assert doc["date"] == pd.Timestamp(mandate["signatureDate"])
    details = mandate["details"]
    party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [doc["party_key"]])
    assert party["name"] == details["consumerName"]
    assert (party["iban"], party["bic"]) == (details["consumerAccount"], details["consumerBic"])
    iban = _one(ws, "SELECT * FROM identifiers WHERE kind = 'iban'", [])
    assert (iban["raw_value"], iban["column"]) == (details["consumerAccount"], "details.consumerAccount")


def test_mollie_settlements_list_holds_no_personal_data(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/mollie/api-settlements_list.json")
    [settlement] = _hal(_load(path), "settlements")
    ws = _imported(path, tmp_path)
    doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [settlement["id"]])
    assert (doc["doc_type"], doc["reference"]) == ("settlement", settlement["reference"])
    assert float(doc["amount"]) == _amount(settlement["amount"]["value"])
    assert doc["date"] == _dutch_clock(settlement["settledAt"])
    title = ws.query("SELECT export_title FROM imports")["export_title"].iloc[0]
    assert "settlements" in title and "no personal data" in title
    assert ws.query("SELECT count(*) FROM parties").iloc[0, 0] == 0


# --------------------------------------------------------------------------------------------
# MoneyBird API v2


def test_moneybird_contacts(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/moneybird/api-getContacts.json")
    contacts = _load(path)
    ws = _imported(path, tmp_path)
    for contact in contacts:
        party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [contact["customer_id"]])
        assert party["company"] == contact["company_name"]
        assert party["given_name"] == contact["firstname"]
        # a company name, KvK or VAT number makes an organisation, names or not
        assert party["party_type"] == "organisation"
        assert party["kvk_number"] == contact["chamber_of_commerce"]
        assert party["vat_number"] == contact["tax_number"]


def test_moneybird_sales_invoices(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/moneybird/api-getSalesInvoices.json")
    invoices = _load(path)
    ws = _imported(path, tmp_path)
    for invoice in invoices:
        doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [invoice["invoice_id"]])
        assert float(doc["amount"]) == _amount(invoice["total_price_incl_tax"])
        assert doc["date"] == pd.Timestamp(invoice["invoice_date"])
        assert doc["due_date"] == pd.Timestamp(invoice["due_date"])
        contact = invoice["contact"]
        party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [doc["party_key"]])
        assert (party["company"], party["city"]) == (contact["company_name"], contact["city"])
        assert party["email"] == contact["email"].lower()
        assert party["postcode"] == _postcode(contact["zipcode"])
        assert party["party_type"] == "organisation"
    people = [i["contact_person"] for i in invoices if i["contact_person"]]
    assert people, "the corpus file names a contact person"
    fields = _fields(ws)
    assert fields["contact_person.firstname"] == fields["contact_person.lastname"] == "other_name"
    assert fields["contact_person.email"] == "other_address"
    names = set(ws.query("SELECT given_name FROM parties")["given_name"])
    assert not names & {p["firstname"] for p in people}  # another person, not the invoiced party


def test_moneybird_financial_mutations(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/moneybird/api-getFinancialMutations.json")
    mutations = _load(path)
    ws = _imported(path, tmp_path)
    for mutation in mutations:
        doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [mutation["id"]])
        assert (doc["doc_type"], doc["description"]) == ("bank_line", mutation["message"])
        assert float(doc["amount"]) == _amount(mutation["amount"])
        assert doc["date"] == pd.Timestamp(mutation["date"])
    # 18-digit ids and the integer version keep every digit
    assert _raw(ws, "financial_account_id") == [m["financial_account_id"] for m in mutations]
    assert _raw(ws, "version") == [m["version"] for m in mutations]
    fields = _fields(ws)
    assert (fields["contra_account_name"], fields["contra_account_number"]) == ("account_holder", "iban")


# --------------------------------------------------------------------------------------------
# Exact Online REST


@pytest.mark.slow  # a long real export imported and checked record by record
def test_exact_accounts(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/exact/api-Response_Json_Array_Account_Long.json")
    accounts = _load(path)["d"]["results"]
    ws = _imported(path, tmp_path)
    assert ws.query("SELECT count(*) FROM parties").iloc[0, 0] == len(accounts)
    for account in accounts:
        party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [account["ID"]])
        assert party["name"] == account["Name"]
        assert party["customer_number"] == account["Code"].strip()
        assert party["country"] == account["Country"].strip()
        assert party["email"] == (account["Email"] or "").lower()
        assert party["city"] == (account["City"] or "")
        assert party["street"] == (account["AddressLine1"] or "")
    # the padded code is kept as Exact wrote it, every digit of an 18-digit one too
    codes = ws.query("SELECT raw_value FROM identifiers WHERE kind = 'customer_number'")["raw_value"]
    assert sorted(codes) == sorted(a["Code"] for a in accounts)
    assert _fields(ws)["Code"] == "customer_number"


def test_exact_sales_invoices(tmp_path: Path) -> None:
    path = shared_file("fixtures/real/exact/api-Response_Json_Array_SalesInvoice_WithLinkedEntities.json")
    invoices = _load(path)["d"]["results"]
    ws = _imported(path, tmp_path)
    for invoice in invoices:
        doc = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [invoice["InvoiceID"]])
        assert float(doc["amount"]) == _amount(invoice["AmountDC"])
        assert doc["date"] == _exact_date(invoice["InvoiceDate"])
        assert doc["due_date"] == _exact_date(invoice["DueDate"])
        assert (doc["description"], doc["currency"]) == (invoice["Description"], invoice["Currency"])
        assert doc["party_key"] == invoice["InvoiceTo"]
        party = _one(ws, "SELECT * FROM parties WHERE party_key = ?", [invoice["InvoiceTo"]])
        assert party["name"] == invoice["InvoiceToName"]
        # the lines $expand put in the invoice: documents of the invoiced party
        for line in invoice["SalesInvoiceLines"]["results"]:
            row = _one(ws, "SELECT * FROM documents WHERE doc_key = ?", [line["ID"]])
            assert (row["doc_type"], row["description"]) == ("invoice_line", line["Description"])
            assert float(row["amount"]) == _amount(line["AmountDC"])
            assert row["party_key"] == invoice["InvoiceTo"]
    fields = _fields(ws)
    assert fields["EmployeeFullName"] == "other_name"
    # Exact spells the sales person with a lower-case p on an invoice: another person's name
    assert (fields["Salesperson"], fields["SalespersonFullName"]) == ("other", "other_name")
    assert fields["InvoiceToContactPersonFullName"] == "other_name"
