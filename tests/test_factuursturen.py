"""FactuurSturen: clients and invoices exports (CSV, XLSX) and API JSON dumps, detected by content
and read into the canonical model; the demo writer's files; the bad inputs of these formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_file

from workbench import demo
from workbench.demo import factuursturen as writer
from workbench.errors import InputError
from workbench.ingest import headers, sources
from workbench.ingest.sources import factuursturen as fs

KIND = {k.name: k for k in fs.KINDS}


@pytest.fixture(scope="module")
def files(business: demo.Business, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = writer.write(business, tmp_path_factory.mktemp("fs") / "factuursturen")
    return {p.name: p for p in paths}


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------------------------
# the demo files


def test_demo_writes_every_kind_deterministically(
    business: demo.Business, files: dict[str, Path], tmp_path: Path
) -> None:
    again = {p.name: p.read_bytes() for p in writer.write(business, tmp_path / "again")}
    assert again == {name: p.read_bytes() for name, p in files.items()}
    detected = {name: fs.detect(p) for name, p in files.items()}
    assert {k.name for k in detected.values()} == set(KIND)
    assert detected["klanten.csv"] == detected["klanten.xlsx"] == KIND["clients"]
    assert detected["facturen.csv"] == detected["facturen.xlsx"] == KIND["invoices"]
    assert detected["api_clients.json"] == KIND["clients_json"]
    assert detected["api_invoices.json"] == KIND["invoices_json"]


def test_demo_clients_csv_has_the_mess_of_a_dutch_export(files: dict[str, Path]) -> None:
    data = files["klanten.csv"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # Windows-1252, so 'ë' is one byte
    text = data.decode("cp1252")
    assert "ë" in text and text.endswith("\r\n\r\n")  # a blank trailing line
    assert text.splitlines()[0].startswith("Klantnummer;Bedrijfsnaam;Contactpersoon;")
    assert re.search(r";\d{2}-\d{2}-\d{4};", text) and ";;" in text
    invoices = files["facturen.csv"].read_bytes()
    assert invoices.startswith(b"\xef\xbb\xbf") and re.search(rb";\d\.\d{3},\d{2};", invoices)


def test_clients_csv_read(business: demo.Business, files: dict[str, Path]) -> None:
    extract = fs.read(files["klanten.csv"])
    clients = business.clients_of("factuursturen")
    assert len(extract.raw) == len(extract.parties) == len(clients)
    assert extract.documents.empty and extract.unmapped == []
    parties = extract.parties.set_index("party_key")
    for client in clients:
        party = parties.loc[str(client.number)]
        typed = business.as_typed(client, "factuursturen")
        assert party["customer_number"] == str(client.number)
        assert party["name"] == typed.full_name and party["company"] == client.company
        assert party["party_type"] == ("organisation" if client.company else "person")
        assert party["email"] == typed.email.lower()
        assert party["iban"] in ("", typed.iban.replace(" ", ""))
    assert extract.column_map["Contactpersoon"] == "name"
    assert extract.column_map["Mobiel"] == extract.column_map["Telefoon"] == "phone"
    assert extract.column_map["Btw verlegd"] == "other"
    spaced = extract.identifiers.query("kind == 'iban' and raw_value.str.contains(' ')")
    assert len(spaced) and spaced.valid.all() and not spaced.value.str.contains(" ").any()


def test_clients_xlsx_gives_the_same_parties_as_the_csv(files: dict[str, Path]) -> None:
    csv_parties = fs.read(files["klanten.csv"]).parties
    xlsx = fs.read(files["klanten.xlsx"])
    pd.testing.assert_frame_equal(xlsx.parties, csv_parties)
    assert xlsx.raw["Laatste factuur"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()  # date cells


def test_invoices_csv_and_xlsx_read(business: demo.Business, files: dict[str, Path]) -> None:
    invoices = [i for i in business.invoices if i.service == "factuursturen"]
    csv_extract = fs.read(files["facturen.csv"])
    docs = csv_extract.documents.set_index("doc_key")
    assert len(docs) == len(invoices) and set(docs.doc_type) == {"invoice"}
    for invoice in invoices:
        doc = docs.loc[invoice.number]
        assert doc["party_key"] == str(invoice.client_number)
        assert doc["amount"] == pytest.approx(float(invoice.amount_incl))
        assert doc["date"] == pd.Timestamp(invoice.date)
        assert doc["due_date"] == pd.Timestamp(invoice.due_date)
        assert doc["description"] == invoice.description
    assert set(docs.status) <= {"Betaald", "Open", "Te laat"}
    assert set(csv_extract.parties.party_key) == {str(i.client_number) for i in invoices}
    xlsx_extract = fs.read(files["facturen.xlsx"])
    pd.testing.assert_frame_equal(xlsx_extract.documents, csv_extract.documents)
    pd.testing.assert_frame_equal(xlsx_extract.parties, csv_extract.parties)


def test_api_json_gives_what_the_dashboard_exports_give(files: dict[str, Path]) -> None:
    clients = fs.read(files["api_clients.json"])
    csv_clients = fs.read(files["klanten.csv"])
    columns = ["party_key", "party_type", "name", "company", "email", "iban", "postcode", "phone"]
    assert clients.parties[columns].reset_index(drop=True).equals(
        csv_clients.parties[columns].reset_index(drop=True))
    assert clients.raw.index[0] == 1 and "reference.line1" in clients.raw.columns
    assert clients.unmapped == [] and clients.documents.empty

    invoices = fs.read(files["api_invoices.json"])
    csv_docs = fs.read(files["facturen.csv"]).documents
    columns = ["doc_key", "party_key", "date", "due_date", "amount", "description"]
    assert invoices.documents[columns].reset_index(drop=True).equals(
        csv_docs[columns].reset_index(drop=True))
    assert invoices.column_map["lines.line1.description"] == "description"
    assert invoices.column_map["lines.line1.price"] == "other"
    assert invoices.column_map["totalintax"] == "amount" and invoices.unmapped == []


# --------------------------------------------------------------------------------------------
# header variants and literal records


CLIENT = {"clientnr": "7", "contact": "Jan Jansen", "company": "", "showcontact": "false",
          "email": "Jan@Example.nl", "bankcode": "NL91 ABNA 0417 1643 00", "sendmethod": "email",
          "reference": {"line1": "", "line2": "", "line3": ""}}
INVOICE = {"id": "1", "invoicenr_full": "F0001", "invoicenr": "F0001", "clientnr": "7",
           "contact": "Jan Jansen", "company": "", "totalintax": "1210.00", "open": "0.00",
           "sent": "2026-10-01", "duedate": "2026-10-15",
           "lines": {"line1": {"description": "Hosting", "price": "1000.00"},
                     "line2": {"description": "Domein", "price": "0.00"}}}


def test_api_names_as_csv_headers_with_unknown_and_invalid_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "clients.csv", (
        "clientnr,company,contact,address,zipcode,city,country,phone,mobile,email,bankcode,"
        "biccode,taxnumber,tax_shifted,sendmethod,Eigen veld\n"
        "1,Jansen ICT,Jan Jansen,Dorpsstraat 1,1234ab,Urk,NL,,06 12345678,JAN@EXAMPLE.NL,"
        "NL91 ABNA 0417 1643 00,ABNANL2A,NL000099998B57,false,email,vip\n"
        "2,,Eva Mulder,Kerkweg 2,1234 AB,Urk,NL,020-1234567,,eva@example,NL00 FAKE 0000,,,"
        "false,mail,\n"))
    assert fs.detect(path) == KIND["clients"]
    extract = fs.read(path)
    assert extract.unmapped == ["Eigen veld"] and extract.raw.loc[2, "Eigen veld"] == "vip"
    first, second = extract.parties.iloc[0], extract.parties.iloc[1]
    assert (first.party_type, second.party_type) == ("organisation", "person")
    assert first.iban == "NL91ABNA0417164300" and first.email == "jan@example.nl"
    assert first.postcode == "1234 AB" and first.phone == "+31612345678"
    assert second.iban == "NL00 FAKE 0000" and second.email == "eva@example"  # kept, not repaired
    flagged = extract.identifiers.query("not valid")
    assert {("iban", "NL00 FAKE 0000"), ("email", "eva@example")} <= set(
        zip(flagged.kind, flagged.raw_value, strict=True))


def test_english_labels(tmp_path: Path) -> None:
    clients = _write(tmp_path / "clients.csv", (
        "Client number;Company name;Contact person;Address;Zip code;City;Phone;Email;IBAN;"
        "VAT number;Tax shifted;Show contact\n"
        "5;;Piet Pietersen;Laan 3;1234AB;Ede;0612345678;piet@example.nl;;;No;No\n"), "utf-8-sig")
    assert fs.detect(clients) == KIND["clients"]
    assert fs.read(clients).parties.iloc[0]["name"] == "Piet Pietersen"
    invoices = _write(tmp_path / "invoices.csv", (
        "Invoice number,Client number,Company,Contact,Invoice date,Due date,Total incl. VAT,Open\n"
        "F-9,5,,Piet Pietersen,2026-01-31,2026-02-14,\"1,210.50\",0.00\n"))
    assert fs.detect(invoices) == KIND["invoices"]
    doc = fs.read(invoices).documents.iloc[0]
    assert (doc.doc_key, doc.party_key, doc.amount) == ("F-9", "5", 1210.5)
    assert doc.date == pd.Timestamp("2026-01-31")


def test_api_single_object_wrappers(tmp_path: Path) -> None:
    client = _write(tmp_path / "client.json", json.dumps({"client": CLIENT}))
    assert fs.detect(client) == KIND["clients_json"]
    party = fs.read(client).parties.iloc[0]
    assert (party.party_key, party.iban, party.email) == ("7", "NL91ABNA0417164300", "jan@example.nl")
    invoice = _write(tmp_path / "invoice.json", json.dumps({"invoice": INVOICE}))
    assert fs.detect(invoice) == KIND["invoices_json"]
    extract = fs.read(invoice)
    doc = extract.documents.iloc[0]
    assert (doc.doc_key, doc.party_key, doc.amount, doc.description) == (
        "F0001", "7", 1210.0, "Hosting")  # the first line describes the invoice
    assert extract.column_map["lines.line2.description"] == "description"


def test_not_mistaken_for_other_services(tmp_path: Path, payments: Path) -> None:
    others = [
        payments,  # Mollie's settlement CSV (conftest)
        _write(tmp_path / "moneybird_contacts.csv",
               "Klantnummer;Bedrijfsnaam;Voornaam;Achternaam;E-mailadres;Verzendmethode;"
               "Machtigingskenmerk\n1;Acme;Jan;Jansen;jan@example.nl;E-mail;M1\n"),
        _write(tmp_path / "generic_invoices.csv",
               "Factuurnummer;Klantnummer;Factuurdatum;Totaal incl. btw;Openstaand bedrag\n"
               "F1;1;01-10-2026;121,00;0,00\n"),
        _write(tmp_path / "moneybird.json", json.dumps(
            [{"id": "1", "customer_id": "1", "company_name": "Acme", "sepa_iban": ""}])),
        _write(tmp_path / "odata.json", json.dumps({"d": {"results": [{"Code": "1", "Name": "A"}]}})),
    ]
    assert [fs.detect(p) for p in others] == [None] * len(others)


def test_registry_knows_every_kind() -> None:
    for kind in fs.KINDS:
        assert sources.resolve(kind.key) == (fs, kind)
        assert fs.FORMATS[kind.name]
    assert fs.FORMATS["clients_json"] == ("json",) and set(fs.FORMATS["clients"]) == {"csv", "xlsx"}


# --------------------------------------------------------------------------------------------
# bad input


def _no_personal_data(error: InputError) -> None:
    for value in ("Jan", "Jansen", "example", "NL91"):
        assert value not in str(error)


def test_truncated_xlsx(files: dict[str, Path], tmp_path: Path) -> None:
    data = files["klanten.xlsx"].read_bytes()
    path = tmp_path / "klanten.xlsx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable XLSX"):
        fs.detect(path)
    with pytest.raises(InputError, match="not a readable XLSX"):
        fs.read(path, KIND["clients"])


def test_broken_and_wrongly_shaped_json(tmp_path: Path) -> None:
    broken = _write(tmp_path / "broken.json", '[{"clientnr": "7", "contact": "Jan Jansen",')
    with pytest.raises(InputError, match="not valid JSON") as error:
        fs.read(broken)
    _no_personal_data(error.value)
    for name, obj in [("numbers", [1, 2, 3]), ("text", {"client": "Jan Jansen"}),
                      ("products", [{"id": "1", "code": "X", "price": "1.00"}])]:
        path = _write(tmp_path / f"{name}.json", json.dumps(obj))
        assert fs.detect(path) is None
        with pytest.raises(InputError, match="not a FactuurSturen API clients") as error:
            fs.read(path, KIND["clients_json"])
        _no_personal_data(error.value)
    clients = _write(tmp_path / "clients.json", json.dumps([CLIENT]))
    with pytest.raises(InputError, match="not a FactuurSturen API invoices"):
        fs.read(clients, KIND["invoices_json"])
    with pytest.raises(InputError, match="is JSON"):
        fs.read(clients, KIND["clients"])


def test_bad_rows_in_csv(tmp_path: Path) -> None:
    header = "Factuurnummer;Klantnummer;Contactpersoon;Factuurdatum;Totaal incl. btw;Openstaand\n"
    bad_date = _write(tmp_path / "date.csv", header + "F1;7;Jan Jansen;01-10-2026;121,00;0,00\n"
                      "F2;7;Jan Jansen;31-02-2026;121,00;0,00\n")
    with pytest.raises(InputError, match="not a date") as error:
        fs.read(bad_date)
    assert (error.value.row, error.value.column) == (3, "Factuurdatum")
    _no_personal_data(error.value)
    short = _write(tmp_path / "short.csv", header + "F1;7;Jan Jansen;01-10-2026\n")
    with pytest.raises(InputError, match="fields") as error:
        fs.read(short)
    assert error.value.row == 2


def test_unrecognised_or_forced_on_the_wrong_headers(tmp_path: Path) -> None:
    path = _write(tmp_path / "other.csv", "Naam;Bedrag\nJan Jansen;12,00\n")
    assert fs.detect(path) is None
    with pytest.raises(InputError, match="not recognised as a FactuurSturen export"):
        fs.read(path)
    with pytest.raises(InputError, match="lacks the columns") as error:
        fs.read(path, KIND["invoices"])
    _no_personal_data(error.value)


# --------------------------------------------------------------------------------------------
# the synonym table against the research notes


def _api_names(notes: str, start: str, end: str) -> list[str]:
    section = notes[notes.index(start):]
    section = section[: section.index(end)]
    quoted = " ".join(re.findall(r"`([^`]*)`", section))
    quoted = re.sub(r"\([^)]*\)|\{[^}]*\}", "", quoted)
    return [n for n in re.findall(r"[a-z_]+", quoted) if "/" not in n]


def test_every_verified_api_field_has_a_synonym() -> None:
    notes = (shared_file("export-formats.md")).read_text("utf-8")
    tables = {t.kind.name: t for t in headers.tables("factuursturen")}
    client = _api_names(notes, "(JSON names):", "Personal data:")
    invoice = _api_names(notes, "a client snapshot", "- Numeric values")
    assert len(client) > 30 and len(invoice) > 15
    assert [n for n in client if headers.fold(n) not in tables["clients"].synonyms] == []
    assert [n for n in invoice if headers.fold(n) not in tables["invoices"].synonyms] == []
