"""MoneyBird: contacts and sales-invoice exports (XLSX and Excel-saved CSV), API dumps, XAF."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from workbench import demo
from workbench.demo import moneybird as demo_moneybird
from workbench.demo._files import FIXED
from workbench.errors import InputError
from workbench.ingest import sources
from workbench.ingest.sources import moneybird

ENGLISH_CONTACTS = (
    "Customer ID,Company name,First name,Last name,Address 1,Zipcode,City,Country,Phone,Email,"
    "Send invoices to email,Tax number,Chamber of Commerce,Sepa IBAN,Sepa IBAN account name,"
    "Sepa BIC,Favourite colour\n"
    "C-1,,Eva,de Vries,Dorpsstraat 4,3511ab,Utrecht,NL,06 12345678,Eva@Example.COM,"
    "Eva@Example.COM,,,NL91 ABNA 0417 1643 00,E. de Vries,ABNANL2A,blue\n"
    "C-2,Bakkerij De Korf BV,,,Markt 1,1234 AB,Gouda,NL,,info@korf.nl,facturen@korf.nl,"
    "NL001234567B01,12345678,NL00BANK0000000000,Bakkerij De Korf BV,,green\n"
)


@pytest.fixture(scope="module")
def files(business: demo.Business, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    written = demo_moneybird.write(business, tmp_path_factory.mktemp("moneybird"))
    return {p.name: p for p in written}


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_demo_writes_every_kind_byte_identically(business: demo.Business, files: dict[str, Path],
                                                 tmp_path: Path) -> None:
    again = demo_moneybird.write(business, tmp_path)
    assert {p.name: p.read_bytes() for p in again} == {n: p.read_bytes() for n, p in files.items()}
    kinds = {moneybird.detect(p).name for p in files.values()}
    # API objects the demo firm never dumped (its bank lines come from its bank)
    undemonstrated = {moneybird.API_FINANCIAL_MUTATIONS.name, moneybird.API_PAYMENTS.name,
                      moneybird.API_EXTERNAL_SALES_INVOICES.name}
    assert kinds == {k.name for k in moneybird.KINDS} - undemonstrated
    # no current time anywhere in the workbooks (a second later they would differ)
    for name in ("contacten.xlsx", "verkoopfacturen.xlsx"):
        with zipfile.ZipFile(files[name]) as workbook:
            assert {i.date_time for i in workbook.infolist()} == {FIXED.timetuple()[:6]}
            core = workbook.read("docProps/core.xml").decode()
        assert core.count(f"{FIXED:%Y-%m-%dT%H:%M:%S}Z") == 2  # created and modified


def test_detection_is_by_content_and_no_other_service_claims_the_files(
        files: dict[str, Path], tmp_path: Path) -> None:
    for index, path in enumerate(files.values()):
        anonymous = shutil.copy(path, tmp_path / f"export{index}.dat")
        claims = [name for name, module in sources.SERVICES.items()
                  if module.detect(Path(anonymous)) is not None]
        assert claims == ["moneybird"], f"{path.name}: {claims}"


def test_contacts_xlsx_and_csv_give_the_same_parties(business: demo.Business,
                                                      files: dict[str, Path]) -> None:
    xlsx = moneybird.read(files["contacten.xlsx"])
    csv = moneybird.read(files["contacten.csv"])
    clients = business.clients_of("moneybird")
    assert xlsx.kind.name == csv.kind.name == "contacts"
    assert len(xlsx.parties) == len(csv.parties) == len(clients) and xlsx.documents.empty
    columns = ["party_key", "company", "given_name", "family_name", "email", "iban", "postcode"]
    assert xlsx.parties[columns].values.tolist() == csv.parties[columns].values.tolist()
    assert set(xlsx.parties["party_key"]) == {str(c.number) for c in clients}
    # identifiers normalised: IBANs typed with spaces lose them, postcodes get theirs
    assert not xlsx.parties["iban"].str.contains(" ").any()
    assert xlsx.parties["postcode"].str.fullmatch(r"\d{4} [A-Z]{2}").all()
    # the Excel date cell is ISO text in raw; the custom field nobody knows is kept, unmapped
    assert xlsx.raw["Mandaatdatum"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    assert xlsx.unmapped == csv.unmapped == ["Klant sinds"]
    assert csv.raw["Klant sinds"].str.fullmatch(r"\d{2}-\d{2}-\d{4}").all()
    company = next(c for c in clients if c.kind == "company" and c.company)
    row = xlsx.parties.set_index("party_key").loc[str(company.number)]
    assert row["company"] == company.company
    assert row["name"] == business.as_typed(company, "moneybird").full_name  # T.a.v.


def test_english_contacts_and_invalid_values_kept_flagged(tmp_path: Path) -> None:
    path = _write(tmp_path, "contacts.csv", ENGLISH_CONTACTS)
    assert moneybird.detect(path).name == "contacts"
    extract = moneybird.read(path)
    parties = extract.parties.set_index("party_key")
    assert parties.loc["C-1", "email"] == "eva@example.com"
    assert parties.loc["C-1", "iban"] == "NL91ABNA0417164300"
    assert parties.loc["C-1", "account_holder"] == "E. de Vries"
    assert parties.loc["C-1", "party_type"] == "person"
    assert parties.loc["C-2", "party_type"] == "organisation"
    assert parties.loc["C-2", "iban"] == "NL00BANK0000000000"  # invalid: kept as it was
    ids = extract.identifiers.set_index(["party_key", "column"])
    assert not ids.loc[("C-2", "Sepa IBAN"), "valid"]
    assert bool(ids.loc[("C-1", "Send invoices to email"), "valid"])
    assert extract.unmapped == ["Favourite colour"]
    assert extract.raw["Favourite colour"].tolist() == ["blue", "green"]


def test_generic_contact_list_is_not_taken_for_moneybird(tmp_path: Path) -> None:
    path = _write(tmp_path, "klanten.csv", "Klantnummer;Bedrijfsnaam;E-mailadres;IBAN\n1;A;a@b.nl;\n")
    assert moneybird.detect(path) is None
    with pytest.raises(InputError, match="MoneyBird"):
        moneybird.read(path)


def test_sales_invoices_link_to_contacts(business: demo.Business, files: dict[str, Path]) -> None:
    invoices = [i for i in business.invoices if i.service == "moneybird"]
    contacts = set(moneybird.read(files["contacten.xlsx"]).parties["party_key"])
    by_number = {i.number: i for i in invoices}
    for name in ("verkoopfacturen.xlsx", "verkoopfacturen.csv"):
        extract = moneybird.read(files[name])
        documents = extract.documents
        assert extract.kind.name == "sales_invoices"
        assert len(documents) == len(invoices)  # the blank trailing CSV row is not an invoice
        assert documents["doc_type"].eq("invoice").all()
        assert set(documents["party_key"]) <= contacts
        first = documents.iloc[0]
        invoice = by_number[first["doc_key"]]
        assert first["amount"] == float(invoice.amount_incl)
        assert first["date"].date() == invoice.date and first["due_date"].date() == invoice.due_date
        assert first["party_key"] == str(invoice.client_number)
        assert set(documents["status"]) <= {"Betaald", "Openstaand", "Te laat"}


def test_bad_amount_names_row_and_column_without_personal_data(tmp_path: Path) -> None:
    text = ("Factuurnummer;Factuurdatum;Contact;Klantnummer;Totaal incl. btw;Openstaand bedrag\n"
            "MB-1;05-01-2026;Eva de Vries;7;1.234,56;0,00\n"
            "MB-2;06-01-2026;Jan Jansen;8;twaalf;0,00\n")
    path = _write(tmp_path, "facturen.csv", text, "cp1252")
    with pytest.raises(InputError) as error:
        moneybird.read(path)
    assert error.value.row == 3 and error.value.column == "Totaal incl. btw"
    assert "Jansen" not in str(error.value)


def test_api_contacts_with_contact_people(business: demo.Business, files: dict[str, Path]) -> None:
    extract = moneybird.read(files["contacts.json"])
    clients = business.clients_of("moneybird")
    people = sum(len(c.contacts) for c in clients)
    assert extract.kind.name == "api_contacts" and people > 0
    assert extract.raw["record"].value_counts().to_dict() == {"contact": len(clients),
                                                              "contact_person": people}
    parties = extract.parties.set_index("party_key")
    company = next(c for c in clients if c.contacts)
    members = parties[parties["organisation_key"].eq(str(company.number))]
    typed = [business.as_typed(company, "moneybird", p) for p in company.contacts]
    assert sorted(members["given_name"]) == sorted(p.given_name for p in typed)
    assert members["party_type"].eq("person").all()
    # a contact is keyed by its customer number, as in the spreadsheet export
    assert {str(c.number) for c in clients} <= set(parties.index)
    noted = parties["notes"].ne("")
    assert noted.any() and not parties.loc[noted, "notes"].str.startswith("[").any()
    assert extract.unmapped == ["custom_fields"]  # the user's own fields: left for review


def test_api_sales_invoices(business: demo.Business, files: dict[str, Path]) -> None:
    extract = moneybird.read(files["sales_invoices.json"])
    invoices = {i.number: i for i in business.invoices if i.service == "moneybird"}
    assert extract.kind.name == "api_sales_invoices"
    documents = extract.documents.set_index("doc_key")
    assert set(documents.index) == set(invoices)
    number, invoice = next(iter(invoices.items()))
    assert documents.loc[number, "description"] == invoice.description
    assert documents.loc[number, "amount"] == float(invoice.amount_incl)
    assert documents.loc[number, "party_key"] == str(invoice.client_number)
    assert documents.loc[number, "status"] == invoice.status
    assert "contact.sepa_iban" in extract.personal_columns


def test_api_dump_with_unknown_field_and_plain_object(tmp_path: Path) -> None:
    contact = {"id": "4", "customer_id": "77", "firstname": "Eva", "lastname": "de Vries",
               "email": "eva@example.com", "send_invoices_to_email": "", "shoe_size": 39,
               "contact_people": []}
    path = _write(tmp_path, "contact.json", json.dumps(contact))  # one object, not a list
    extract = moneybird.read(path)
    assert extract.kind.name == "api_contacts" and len(extract.parties) == 1
    assert extract.parties.iloc[0]["party_key"] == "77"
    assert extract.unmapped == ["shoe_size"] and extract.raw.loc[1, "shoe_size"] == "39"


@pytest.mark.parametrize("text", ['[1, 2, 3]', '{"customers": []}', '[{"name": "x"}]'])
def test_json_of_the_wrong_shape(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "dump.json", text)
    assert moneybird.detect(path) is None
    with pytest.raises(InputError, match="not a MoneyBird API contacts"):
        moneybird.read(path, moneybird.API_CONTACTS)


def test_contacts_dump_read_as_invoices_and_broken_json(files: dict[str, Path],
                                                        tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sales invoices"):
        moneybird.read(files["contacts.json"], moneybird.API_SALES_INVOICES)
    broken = _write(tmp_path, "broken.json", '[{"customer_id": "1", ')
    with pytest.raises(InputError, match="not valid JSON"):
        moneybird.read(broken)


def test_truncated_xlsx_and_wrong_container(files: dict[str, Path], tmp_path: Path) -> None:
    data = files["contacten.xlsx"].read_bytes()
    path = tmp_path / "contacten.xlsx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="XLSX"):
        moneybird.read(path)
    with pytest.raises(InputError, match="JSON file is not a MoneyBird contacts export"):
        moneybird.read(files["contacts.json"], moneybird.KINDS[0])


def test_auditfile_claimed_only_when_moneybird_wrote_it(files: dict[str, Path],
                                                         tmp_path: Path) -> None:
    auditfile = files[f"auditfile_{demo.TODAY.year}.xaf"]
    extract = moneybird.read(auditfile)
    assert extract.kind == moneybird.XAF and len(extract.parties) > 100
    text = auditfile.read_text("utf-8")
    exact = _write(tmp_path, "exact.xaf", text.replace(">Moneybird<", ">Exact Online<"))
    unnamed = _write(tmp_path, "unnamed.xaf", text.replace("<softwareDesc>Moneybird</softwareDesc>", ""))
    assert moneybird.detect(exact) is None and moneybird.detect(unnamed) is None
    # the user can still say it is MoneyBird's
    assert len(sources.read(unnamed, "moneybird/xaf").parties) == len(extract.parties)


# --------------------------------------------------------------------------------------------
# API dumps: financial mutations, payments, external sales invoices, the organisation rule


MUTATION = {"id": "492897320896038527", "administration_id": "123", "amount": "-12.5",
            "code": None, "date": "2026-07-17", "message": "Terugbetaling order 12",
            "contra_account_name": "J. de Boer", "contra_account_number": "NL91ABNA0417164300",
            "state": "processed", "financial_account_id": "492897320871921275", "currency": "EUR",
            "version": 1784283537, "sepa_fields": None, "payments": []}


@pytest.mark.parametrize("wrap", [lambda m: [m], lambda m: m], ids=["list", "single"])
def test_financial_mutations_name_the_counterparty(tmp_path: Path, wrap) -> None:
    path = _write(tmp_path, "mutations.json", json.dumps(wrap(MUTATION)))
    assert moneybird.detect(path) == moneybird.API_FINANCIAL_MUTATIONS
    extract = moneybird.read(path)
    doc = extract.documents.iloc[0]
    assert (doc["doc_key"], doc["amount"], doc["doc_type"]) == ("492897320896038527", -12.5, "bank_line")
    party = extract.parties.iloc[0]
    assert (party["account_holder"], party["iban"]) == ("J. de Boer", "NL91ABNA0417164300")
    assert doc["party_key"] == party["party_key"]
    assert extract.raw.loc[1, "version"] == "1784283537"  # a JSON integer, every digit
    assert extract.unmapped == ["sepa_fields", "payments"]


def test_payments_dump(tmp_path: Path) -> None:
    payment = {"id": "370131013361206478", "administration_id": "281289699686381606",
               "invoice_type": "SalesInvoice", "invoice_id": "370131013156734145",
               "price": "363.0", "price_base": "363.0", "payment_date": "2022-10-31",
               "financial_mutation_id": "370131013357012173"}
    path = _write(tmp_path, "payments.json", json.dumps([payment]))
    assert moneybird.detect(path) == moneybird.API_PAYMENTS
    doc = moneybird.read(path).documents.iloc[0]
    assert (doc["doc_key"], doc["amount"], doc["reference"], doc["doc_type"]) == (
        "370131013361206478", 363.0, "370131013156734145", "payment")


def test_external_sales_invoice_with_its_contact(tmp_path: Path) -> None:
    invoice = {"id": "478443671070442709", "contact_id": "478443677972170256",
               "contact": {"id": "478443677972170256", "company_name": "", "firstname": "Eva",
                           "lastname": "de Vries", "zipcode": "3511AB", "city": "Utrecht",
                           "customer_id": "26", "email": "eva@example.nl", "tax_number": "",
                           "chamber_of_commerce": ""},
               "date": "2025-11-16", "due_date": "2026-02-20", "reference": "12345",
               "entry_number": 1, "origin": "upload", "source": "webshop", "currency": "EUR",
               "total_price_incl_tax": "71.39",
               "details": [{"description": "Fiets", "price": "71.39"}], "notes": []}
    path = _write(tmp_path, "external.json", json.dumps([invoice]))
    assert moneybird.detect(path) == moneybird.API_EXTERNAL_SALES_INVOICES
    extract = moneybird.read(path)
    doc = extract.documents.iloc[0]
    assert (doc["doc_key"], doc["reference"], doc["amount"], doc["description"]) == (
        "478443671070442709", "12345", 71.39, "Fiets")
    party = extract.parties.iloc[0]
    assert (party["party_key"], party["given_name"], party["party_type"]) == ("26", "Eva", "person")
    assert doc["party_key"] == "26"


@pytest.mark.parametrize("fields,kind", [
    ({"company_name": "Bakkerij BV", "firstname": "Jan", "lastname": "Bakker"}, "organisation"),
    ({"company_name": "", "firstname": "", "tax_number": "NL001234567B01"}, "organisation"),
    ({"company_name": "", "firstname": "", "chamber_of_commerce": "12345678"}, "organisation"),
    ({"company_name": "", "firstname": "Jan", "lastname": "Bakker"}, "person"),
])
def test_a_contact_with_a_company_kvk_or_vat_is_an_organisation(tmp_path: Path, fields, kind) -> None:
    contact = {"id": "1", "customer_id": "7", "send_invoices_to_email": "", "firstname": "",
               "lastname": "", "tax_number": "", "chamber_of_commerce": "",
               "contact_people": [{"id": "9", "firstname": "Piet", "lastname": "Smit"}], **fields}
    extract = moneybird.read(_write(tmp_path, "contacts.json", json.dumps([contact])))
    types = extract.parties.set_index("party_key")["party_type"].to_dict()
    assert types == {"7": kind, "9": "person"}  # a contact person is always a person


def test_sales_invoice_contact_person_is_another_person(tmp_path: Path) -> None:
    invoice = {"id": "1", "invoice_id": "2026-0001", "contact_id": "5", "invoice_date": "2026-01-02",
               "total_price_incl_tax": "121.0", "details": [],
               "contact": {"id": "5", "customer_id": "C-5", "company_name": "Korf BV"},
               "contact_person_id": "8",
               "contact_person": {"id": "8", "firstname": "Piet", "lastname": "Smit",
                                  "email": "piet@korf.nl", "department": "Inkoop"}}
    extract = moneybird.read(_write(tmp_path, "invoices.json", json.dumps([invoice])))
    assert extract.column_map["contact_person.firstname"] == "other_name"
    assert extract.column_map["contact_person.email"] == "other_address"
    assert extract.column_map["contact_person_id"] == "other"
    assert "piet@korf.nl" not in extract.parties.to_csv()
    assert extract.parties.iloc[0]["party_type"] == "organisation"


def test_tabular_contacts_follow_the_organisation_rule(tmp_path: Path) -> None:
    text = ENGLISH_CONTACTS.replace("C-2,Bakkerij De Korf BV,,", "C-2,Bakkerij De Korf BV,Jan,Korf")
    extract = moneybird.read(_write(tmp_path, "contacts.csv", text))
    types = extract.parties.set_index("party_key")["party_type"].to_dict()
    assert types == {"C-1": "person", "C-2": "organisation"}  # a company with a contact name
