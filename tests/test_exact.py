"""Exact Online: list-view CSV/XLSX (Dutch and English captions), eExact XML, XAF and REST
dumps, read from the demo business and from small literal files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench import demo
from workbench.demo import exact as exact_demo
from workbench.demo._xaf import write_xaf
from workbench.errors import InputError
from workbench.ingest.sources import detect as detect_any
from workbench.ingest.sources import exact


@pytest.fixture(scope="module")
def files(business: demo.Business, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = exact_demo.write(business, tmp_path_factory.mktemp("exact"))
    return {p.name: p for p in paths}


@pytest.fixture(scope="module")
def bsn_client(business: demo.Business) -> demo.Client:
    return next(c for c in business.clients if "bsn_in_exact" in c.flags)


def _utf16_tab(path: Path, rows: list[list[str]]) -> Path:
    """A list export as Exact writes it: UTF-16 LE with BOM, TAB, CRLF."""
    text = "".join("\t".join(r) + "\r\n" for r in rows)
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    return path


# --------------------------------------------------------------------------------------------
# the demo: every kind detected by content, deterministic


EXPECTED_KINDS = {
    "CRMAccounts.csv": "relations", "CRMAccounts.xlsx": "relations",
    "CRMContacts.csv": "contacts", "CRMContacts.xlsx": "contacts", "Accounts.xml": "xml",
    "Invoices.xml": "xml", "Auditfile.xaf": "xaf", "crm_Accounts.json": "api_accounts",
    "crm_Contacts.json": "api_contacts", "salesinvoice_SalesInvoices.json": "api_sales_invoices",
}


def test_every_demo_file_is_detected_as_its_exact_kind(files: dict[str, Path]) -> None:
    assert set(files) == set(EXPECTED_KINDS)
    for name, path in files.items():
        module, kind = detect_any(path)
        assert (module, kind.name) == (exact, EXPECTED_KINDS[name]), name
    # REST entities the demo firm's consultant never pulled: read from dumps only
    undemonstrated = {"api_sales_orders", "api_quotations", "api_sales_invoice_lines",
                      "api_bank_entries", "api_bank_entry_lines", "api_transaction_lines"}
    assert {k.name for k in exact.KINDS} == set(EXPECTED_KINDS.values()) | undemonstrated


def test_demo_is_byte_identical_for_the_same_business(business: demo.Business,
                                                       files: dict[str, Path],
                                                       tmp_path: Path) -> None:
    again = {p.name: p.read_bytes() for p in exact_demo.write(business, tmp_path)}
    assert again == {name: p.read_bytes() for name, p in files.items()}


def test_list_csv_is_utf16_tab_with_padded_codes(files: dict[str, Path]) -> None:
    data = files["CRMAccounts.csv"].read_bytes()
    assert data.startswith(b"\xff\xfe")
    header, *rows = [line.split("\t") for line in data[2:].decode("utf-16-le").splitlines()]
    assert {"LandCode", "Zoekcode", "Classificatie 1Omschrijving"} <= set(header)
    codes = [r[header.index("Code")] for r in rows]
    assert all(len(c) == 18 and c.startswith(" ") and c.strip().isdigit() for c in codes)
    credit = [r[header.index("Kredietlimiet verkoop")] for r in rows]
    assert all(re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", c) for c in credit)
    assert any("." in c for c in credit)  # 2.500,00: thousands dot, decimal comma


# --------------------------------------------------------------------------------------------
# relations and contact persons lists


@pytest.mark.parametrize("name", ["CRMAccounts.csv", "CRMAccounts.xlsx"])
def test_relations_list(name: str, files: dict[str, Path], business: demo.Business) -> None:
    extract = exact.read(files[name])
    clients = business.clients_of("exact")
    assert len(extract.raw) == len(extract.parties) == len(clients)
    parties = extract.parties.set_index("party_key")
    assert set(parties.index) == {str(c.number) for c in clients}  # codes trimmed
    company = next(c for c in clients if c.kvk)
    row = parties.loc[str(company.number)]
    assert (row["party_type"], row["company"], row["kvk_number"]) == (
        "organisation", company.company, company.kvk)
    assert not parties["iban"].str.contains(" ").any()  # typed with spaces, normalised
    assert extract.column_map["Zoekcode"] == "search_code"  # personal: made from the name
    assert extract.unmapped == ["Classificatie 1Omschrijving"]  # unknown, kept in raw
    assert set(extract.raw["Classificatie 1Omschrijving"]) == {"Particulier", "MKB"}
    assert extract.raw["Klant sinds"].str.fullmatch(r"\d{2}-\d{2}-\d{4}|\d{4}-\d{2}-\d{2}").all()


def test_relations_keep_the_moved_clients_old_address(files: dict[str, Path],
                                                      business: demo.Business) -> None:
    moved = next(c for c in business.clients if "moved" in c.flags)
    parties = exact.read(files["CRMAccounts.csv"]).parties.set_index("party_key")
    assert parties.loc[str(moved.number), "city"] == moved.old_address.city


@pytest.mark.parametrize("name", ["CRMContacts.csv", "CRMContacts.xlsx"])
def test_contact_persons_link_to_their_relation(name: str, files: dict[str, Path],
                                                bsn_client: demo.Client) -> None:
    contacts = exact.read(files[name])
    relations = exact.read(files["CRMAccounts.csv"])
    assert (contacts.parties["party_type"] == "person").all()
    assert set(contacts.parties["organisation_key"]) <= set(relations.parties["party_key"])
    bsn = contacts.identifiers[contacts.identifiers["kind"] == "bsn"]
    assert bsn[["value", "valid"]].values.tolist() == [[bsn_client.person.bsn, True]]
    person = contacts.parties[contacts.parties["bsn"] != ""].iloc[0]
    assert person["organisation_key"] == str(bsn_client.number)
    assert person["birth_date"].date() == bsn_client.person.birth_date  # DD-MM-YYYY, Excel date


def test_english_captions_are_read_like_dutch(tmp_path: Path) -> None:
    relations = _utf16_tab(tmp_path / "accounts.csv", [
        ["Code", "Name", "Search code", "Address line 1", "Postcode", "City", "CountryCode",
         "CountryDescription", "Phone", "Email", "Chamber of Commerce", "VAT number",
         "Customer since", "Sales credit line"],
        [f"{'42':>18}", "Jansen ICT", "JANSEN", "Dorpsstraat 1", "1234AB", "Utrecht", "NL",
         "Netherlands", "06-12345678", "Info@Jansen.nl", "12345678", "NL004495445B01",
         "31-01-2024", "1.500,00"],
    ])
    contacts = _utf16_tab(tmp_path / "contacts.csv", [
        ["AccountCode", "AccountName", "First name", "Middle name", "Last name", "Initials",
         "Job title", "Phone", "Mobile", "Email", "Gender", "Birth date",
         "Social security number"],
        [f"{'42':>18}", "Jansen ICT", "Piet", "van", "Jansen", "P.", "Owner", "", "0612345678",
         "piet@jansen.nl", "Male", "05-03-1980", "123456789"],
    ])
    assert exact.detect(relations).name == "relations"
    assert exact.detect(contacts).name == "contacts"
    org = exact.read(relations).parties.iloc[0]
    assert (org["party_key"], org["postcode"], org["email"], org["vat_number"]) == (
        "42", "1234 AB", "info@jansen.nl", "NL004495445B01")
    person = exact.read(contacts)
    row = person.parties.iloc[0]
    assert (row["organisation_key"], row["given_name"], row["name_prefix"], row["phone"]) == (
        "42", "Piet", "van", "+31612345678")
    assert str(row["birth_date"].date()) == "1980-03-05"
    bsn = person.identifiers[person.identifiers["kind"] == "bsn"].iloc[0]
    assert (bsn["raw_value"], bool(bsn["valid"]), row["bsn"]) == ("123456789", False, "123456789")


def test_a_plain_code_and_name_list_is_not_taken_for_exact(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("Code;Naam;Postcode;Plaats\n1;Jan;1234 AB;Utrecht\n", encoding="utf-8")
    assert exact.detect(path) is None


def test_forced_kind_on_a_list_without_its_columns(tmp_path: Path) -> None:
    path = _utf16_tab(tmp_path / "x.csv", [["Code", "Omschrijving"], ["1", "Iets"]])
    with pytest.raises(InputError, match="lacks the columns"):
        exact.read(path, exact.KINDS[0])


def test_truncated_xlsx(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    path.write_bytes(files["CRMAccounts.xlsx"].read_bytes()[:3000])
    with pytest.raises(InputError, match="XLSX"):
        exact.read(path, next(k for k in exact.KINDS if k.name == "relations"))


# --------------------------------------------------------------------------------------------
# eExact XML


def test_xml_accounts_and_contacts(files: dict[str, Path], business: demo.Business,
                                   bsn_client: demo.Client) -> None:
    extract = exact.read(files["Accounts.xml"])
    clients = business.clients_of("exact")
    people = sum(1 + len(c.contacts) for c in clients)
    assert extract.raw["record"].value_counts().to_dict() == {"contact": people,
                                                              "account": len(clients)}
    parties = extract.parties
    accounts = parties[extract.raw.loc[parties.index, "record"] == "account"]
    assert set(accounts["party_key"]) == {str(c.number) for c in clients}
    contacts = parties[parties["organisation_key"] != ""]
    assert len(contacts) == people and set(contacts["organisation_key"]) == set(accounts["party_key"])
    assert contacts["party_key"].str.startswith("{").all()  # the contact's own ID
    assert {"Contact/../@code", "Account/BankAccount/Holder/Name"} <= set(extract.column_map)
    bsn = extract.identifiers[extract.identifiers["kind"] == "bsn"]
    assert bsn[["column", "value", "valid"]].values.tolist() == [
        ["Contact/SocialSecurityNumber", bsn_client.person.bsn, True]]
    assert extract.documents.empty


def test_xml_invoices(files: dict[str, Path], business: demo.Business) -> None:
    extract = exact.read(files["Invoices.xml"])
    invoices = [i for i in business.invoices if i.service == "exact"]
    docs = extract.documents.set_index("doc_key")
    assert len(docs) == len(invoices)
    first = invoices[0]
    row = docs.loc[first.number]
    assert (row["party_key"], row["amount"], row["currency"], row["doc_type"]) == (
        str(first.client_number), float(first.amount_incl), "EUR", "invoice")
    assert row["date"].date() == first.date
    assert set(extract.parties["party_key"]) == {str(i.client_number) for i in invoices}


XML_ACCOUNT = """<?xml version="1.0" encoding="utf-8"?>
<eExact xmlns="urn:example:eexact">
  <Accounts>
    <Account code="              7" status="C">
      <Name>Bakker B.V.</Name>
      <Contact gender="V">
        <LastName>Bakker</LastName><FirstName>Els</FirstName>
        <SocialSecurityNumber>123456782</SocialSecurityNumber>
      </Contact>
      <Address type="INV"><AddressStreet>Kerkweg</AddressStreet>
        <AddressStreetNumber>12</AddressStreetNumber><PostalCode>1234ab</PostalCode></Address>
      <Address type="POS"><AddressLine1>Postbus 5</AddressLine1></Address>
      <ChamberOfCommerce>12345678</ChamberOfCommerce>
      <FavouriteColour>blue</FavouriteColour>
    </Account>
  </Accounts>
</eExact>
"""


def test_xml_street_parts_namespaces_and_unknown_elements(tmp_path: Path) -> None:
    path = tmp_path / "a.xml"
    path.write_text(XML_ACCOUNT, encoding="utf-8")
    extract = exact.read(path)
    account = extract.parties.set_index("party_key").loc["7"]
    assert (account["street"], account["postcode"], account["party_type"]) == (
        "Kerkweg 12", "1234 AB", "organisation")
    assert extract.raw.loc[1, "Account/Address[2]/AddressLine1"] == "Postbus 5"
    assert extract.unmapped == ["Account/FavouriteColour"]  # kept in raw, shown as unknown
    contact = extract.parties[extract.parties["organisation_key"] == "7"].iloc[0]
    assert (contact["given_name"], contact["gender"], contact["bsn"]) == ("Els", "V", "123456782")


@pytest.mark.parametrize(("text", "problem"), [
    (XML_ACCOUNT[:300], "broken or truncated XML"),
    ('<?xml version="1.0"?><eExact><Items/></eExact>', "holds no Accounts"),
    ('<?xml version="1.0"?><!DOCTYPE eExact [<!ENTITY a "aaaa">]><eExact>&a;</eExact>',
     "unsafe XML refused"),
])
def test_bad_xml(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=problem) as error:
        exact.read(path, exact.XML)
    assert "Bakker" not in str(error.value)


def test_wrong_root_is_not_exact_and_refused_when_forced(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text("<Invoices><Invoice/></Invoices>", encoding="utf-8")
    assert exact.detect(path) is None
    with pytest.raises(InputError, match="root element is 'Invoices'"):
        exact.read(path, exact.XML)


# --------------------------------------------------------------------------------------------
# XAF


def test_xaf_is_claimed_only_when_exact_wrote_it(files: dict[str, Path], business: demo.Business,
                                                 tmp_path: Path) -> None:
    extract = exact.read(files["Auditfile.xaf"])
    assert extract.kind == exact.XAF
    assert set(extract.parties["party_key"]) == {str(c.number) for c in business.clients_of("exact")}
    assert not extract.documents.empty
    other = write_xaf(tmp_path / "mb.xaf", business, "moneybird", business.clients_of("moneybird"),
                      [], "Moneybird")
    assert exact.detect(other) is None


# --------------------------------------------------------------------------------------------
# REST dumps


def test_rest_dumps_link_contacts_and_invoices_to_accounts(files: dict[str, Path],
                                                           business: demo.Business,
                                                           bsn_client: demo.Client) -> None:
    accounts = exact.read(files["crm_Accounts.json"])
    contacts = exact.read(files["crm_Contacts.json"])
    invoices = exact.read(files["salesinvoice_SalesInvoices.json"])
    keys = set(accounts.parties["party_key"])
    assert set(accounts.parties["customer_number"]) == {
        str(c.number) for c in business.clients_of("exact")}
    assert set(contacts.parties["organisation_key"]) <= keys
    assert set(invoices.documents["party_key"]) <= keys
    assert "BankAccounts.__deferred.uri" in accounts.column_map
    assert accounts.unmapped == []
    person = contacts.parties[contacts.parties["bsn"] != ""].iloc[0]
    assert person["bsn"] == bsn_client.person.bsn
    assert person["birth_date"].date() == bsn_client.person.birth_date  # from /Date(ms)/
    bsn = contacts.identifiers[contacts.identifiers["kind"] == "bsn"]
    assert bsn["valid"].tolist() == [True]
    first = next(i for i in business.invoices if i.service == "exact")
    row = invoices.documents.set_index("reference").loc[first.number]
    assert (row["amount"], row["doc_type"], row["date"].date()) == (
        float(first.amount_incl), "invoice", first.date)


CONTACT = {"ID": "c1", "Account": "a1", "FirstName": "Els", "LastName": "Bakker",
           "AddressStreet": "Kerkweg", "AddressStreetNumber": "12",
           "BirthDate": "/Date(315532800000)/", "Mood": "cheerful"}


@pytest.mark.parametrize("wrapper", [
    lambda r: r, lambda r: {"d": r}, lambda r: {"d": {"results": r, "__next": "x"}}])
def test_rest_wrappers(tmp_path: Path, wrapper) -> None:
    path = tmp_path / "contacts.json"
    path.write_text(json.dumps(wrapper([CONTACT])), encoding="utf-8")
    assert exact.detect(path) == exact.API_CONTACTS
    extract = exact.read(path)
    row = extract.parties.iloc[0]
    assert (row["party_key"], row["organisation_key"], row["street"]) == ("c1", "a1", "Kerkweg 12")
    assert str(row["birth_date"].date()) == "1980-01-01"
    assert extract.unmapped == ["Mood"]


@pytest.mark.parametrize("content", [
    '{"d": {"results": "none"}}', "[1, 2, 3]", '[{"id": 1, "firstname": "x"}]'])
def test_json_of_another_shape_is_not_exact(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content, encoding="utf-8")
    assert exact.detect(path) is None


def test_bad_json_when_forced(tmp_path: Path) -> None:
    shape = tmp_path / "shape.json"
    shape.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="no list of API objects"):
        exact.read(shape, exact.API_ACCOUNTS)
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps([CONTACT]), encoding="utf-8")
    with pytest.raises(InputError, match="lacks the fields InvoiceID, InvoiceTo"):
        exact.read(fields, exact.API_SALES_INVOICES)
    broken = tmp_path / "broken.json"
    broken.write_text('{"d": {"results": [', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        exact.read(broken, exact.API_CONTACTS)


def test_kind_in_the_wrong_container(files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="is a json file"):
        exact.read(files["crm_Contacts.json"], exact.XML)


# --------------------------------------------------------------------------------------------
# REST: one entity, the other entities with client data, numbers as written


ACCOUNT = {"__metadata": {"type": "Exact.Web.Api.Models.Account"}, "ID": "a-1",
           "Code": "                24", "Name": "Sportmart B.V.", "Country": "NL ",
           "ChamberOfCommerce": "12345678", "Email": "Info@Sportmart.nl",
           "Division": 246813579012345678, "CustomerSince": "/Date(1394582400000)/"}


def test_rest_single_entity_keeps_padding_and_digits(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text(json.dumps({"d": ACCOUNT}), encoding="utf-8-sig")
    assert exact.detect(path) == exact.API_ACCOUNTS
    extract = exact.read(path)
    party = extract.parties.iloc[0]
    assert (party["party_key"], party["customer_number"], party["country"]) == ("a-1", "24", "NL")
    assert (party["company"], party["email"]) == ("Sportmart B.V.", "info@sportmart.nl")
    assert extract.raw.loc[1, "Code"] == "                24"  # as Exact wrote it
    assert extract.raw.loc[1, "Division"] == "246813579012345678"  # never 2.4681357901234566e+17
    ids = extract.identifiers.set_index("kind")
    assert ids.loc["customer_number", "raw_value"] == "                24"


def test_rest_sales_person_as_exact_spells_it(tmp_path: Path) -> None:
    invoice = {"InvoiceID": "i-1", "InvoiceTo": "a-1", "InvoiceToName": "Sportmart B.V.",
               "AmountDC": 9075, "InvoiceDate": "/Date(1351209600000)/",
               "Salesperson": "u-1", "SalespersonFullName": "Karin Jansen"}
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"d": {"results": [invoice]}}), encoding="utf-8")
    extract = exact.read(path)
    assert extract.column_map["SalespersonFullName"] == "other_name"
    assert extract.column_map["Salesperson"] == "other"
    assert "Karin Jansen" not in extract.parties.to_csv()  # an employee, not the client
    doc = extract.documents.iloc[0]
    assert (doc["amount"], str(doc["date"].date())) == (9075.0, "2012-10-26")


@pytest.mark.parametrize("kind,record,doc", [
    ("api_sales_orders",
     {"OrderID": "o-1", "OrderNumber": 7, "OrderedBy": "a-1", "OrderedByName": "Els Bakker",
      "InvoiceToName": "Bakker Holding", "OrderDate": "/Date(1351209600000)/", "AmountDC": 120.5,
      "SalespersonFullName": "Karin Jansen", "ApproverFullName": "Piet Mulder"},
     ("o-1", "7", "a-1", "Els Bakker", 120.5, "order")),
    ("api_quotations",
     {"QuotationID": "q-1", "QuotationNumber": 3, "OrderAccount": "a-1",
      "OrderAccountCode": "                24", "OrderAccountName": "Els Bakker",
      "QuotationDate": "/Date(1351209600000)/", "AmountDC": 99, "SalesPersonFullName": "Karin Jansen"},
     ("q-1", "3", "a-1", "Els Bakker", 99.0, "quotation")),
    ("api_bank_entry_lines",
     {"ID": "b-1", "EntryID": "e-1", "EntryNumber": 15, "OurRef": 4, "Account": "a-1",
      "AccountCode": "                24", "AccountName": "Els Bakker", "AmountDC": -25,
      "Date": "/Date(1351209600000)/", "Description": "Terugbetaling", "GLAccount": "g-1"},
     ("b-1", "15", "a-1", "Els Bakker", -25.0, "bank_line")),
    ("api_transaction_lines",
     {"ID": "t-1", "EntryID": "e-1", "FinancialYear": 2012, "JournalCode": "70",
      "InvoiceNumber": 12001, "Account": "a-1", "AccountName": "Els Bakker", "AmountDC": 60,
      "Date": "/Date(1351209600000)/", "Description": "Factuur 12001"},
     ("t-1", "12001", "a-1", "Els Bakker", 60.0, "journal_line")),
])
def test_rest_entities_with_client_data(tmp_path: Path, kind: str, record: dict, doc: tuple) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps({"d": {"results": [record]}}), encoding="utf-8")
    assert exact.detect(path).name == kind
    extract = exact.read(path)
    row = extract.documents.iloc[0]
    party = extract.parties.set_index("party_key").loc[row["party_key"]]
    assert (row["doc_key"], row["reference"], row["party_key"], party["name"], row["amount"],
            row["doc_type"]) == doc
    assert str(row["date"].date()) == "2012-10-26"
    assert extract.unmapped == []
    staff = [c for c in record if c.endswith("FullName") or c == "InvoiceToName"]
    assert all(extract.column_map[c] == "other_name" for c in staff)


def test_rest_bank_entries_with_their_expanded_lines(tmp_path: Path) -> None:
    line = {"ID": "l-1", "EntryID": "e-1", "OurRef": 4, "Account": "a-1", "AccountName": "Els Bakker",
            "AmountDC": 25, "Date": "/Date(1351209600000)/", "Description": "Factuur 12001",
            "CreatorFullName": "Karin Jansen"}
    entry = {"EntryID": "e-1", "JournalCode": "20", "OpeningBalanceFC": 100, "ClosingBalanceFC": 125,
             "BankEntryLines": {"results": [line, {**line, "ID": "l-2", "Account": "a-2",
                                                   "AccountName": "Jan de Vries"}]}}
    path = tmp_path / "bankentries.json"
    path.write_text(json.dumps({"d": {"results": [entry]}}), encoding="utf-8")
    assert exact.detect(path).name == "api_bank_entries"
    extract = exact.read(path)
    assert extract.raw["embedded in"].tolist() == ["", "row 1", "row 1"]
    docs = extract.documents.set_index("doc_key")
    assert docs["party_key"].to_dict() == {"l-1": "a-1", "l-2": "a-2"}  # the header is no document
    assert set(extract.parties["name"]) == {"Els Bakker", "Jan de Vries"}
    assert extract.column_map["CreatorFullName"] == "other_name" and extract.unmapped == []
