"""Tabular exports recognised by the columns they have, also a subset of them; a first row of
values is no header, with or without --source, and its values are never shown."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from workbench.errors import InputError
from workbench.ingest import sources
from workbench.ingest.sources import _common, _recognise
from workbench.store.workspace import Workspace
from workbench.ui import cli

# A MoneyBird contacts export as a user downloads it: the contact form's fields, no customer
# number column and none of the captions only MoneyBird has.
MONEYBIRD = ["Bedrijfsnaam", "Voornaam", "Achternaam", "Adres", "Postcode", "Plaats", "Land",
             "E-mailadres", "Telefoonnummer", "KvK-nummer", "Btw-nummer", "IBAN"]
MONEYBIRD_ROWS = [
    ["Jansen Advies", "Jan", "Jansen", "Hoofdstraat 1", "1234 AB", "Amsterdam", "Nederland",
     "jan@jansen-advies.nl", "0612345678", "12345678", "NL123456789B01", "NL91ABNA0417164300"],
    ["", "Eva", "de Boer", "Dorpsweg 3", "2345 BC", "Utrecht", "Nederland", "eva@example.nl",
     "0301234567", "", "", "NL20INGB0001234567"],
]
# An Exact relations list with the columns the user picked (no search code, no country
# description) plus one of the firm's own free fields; Exact writes UTF-16, TAB, padded codes.
EXACT = ["Code", "Naam", "Adresregel 1", "Postcode", "Plaats", "Telefoon", "E-mail", "Vrij veld 1"]
EXACT_ROWS = [
    ["              1001", "Piet Pietersen", "Kerkweg 12", "3456 CD", "Zwolle", "038-1234567",
     "piet@example.nl", "x"],
    ["              1002", "Bakkerij de Korenaar", "Molenstraat 4", "4567 DE", "Breda",
     "076-7654321", "info@korenaar.nl", ""],
]


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def _exact_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\r\n".join("\t".join(r) for r in [header, *rows]) + "\r\n", encoding="utf-16")
    return path


def _run(capsys: pytest.CaptureFixture, ws: Path, *args: str) -> tuple[int, str, str]:
    _common.release()
    code = cli.main(["--workspace", str(ws), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_moneybird_contacts_xlsx_with_a_subset_of_columns_is_recognised(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "contacten.xlsx", [MONEYBIRD, *MONEYBIRD_ROWS])
    extract = sources.read(path)
    assert extract.kind.key == "moneybird/contacts"
    assert "12 of 12" in extract.recognition and "moneybird/contacts" in extract.recognition
    assert sorted(extract.parties["email"]) == ["eva@example.nl", "jan@jansen-advies.nl"]
    assert "NL91ABNA0417164300" in extract.parties["iban"].tolist()
    assert extract.unmapped == []


def test_exact_relations_with_user_picked_columns_recognised_with_and_without_source(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _exact_csv(tmp_path / "relaties.csv", EXACT, EXACT_ROWS)
    extract = sources.read(path)
    assert extract.kind.key == "exact/relations"
    assert extract.unmapped == ["Vrij veld 1"]
    assert sorted(extract.parties["customer_number"]) == ["1001", "1002"]
    code, out, err = _run(capsys, tmp_path / "ws", "import", "--source", "exact", str(path))
    assert code == 0, err
    assert "recognised as exact/relations: chosen by its columns: 7 of 8 known" in out
    assert "unmapped columns (1): Vrij veld 1" in out


def test_named_kind_accepts_a_subset_and_says_what_it_lacks(tmp_path: Path) -> None:
    path = _exact_csv(tmp_path / "relaties.csv", EXACT[1:], [r[1:] for r in EXACT_ROWS])
    extract = sources.read(path, "exact/relations")
    assert extract.kind.key == "exact/relations"
    assert "named with --source exact/relations" in extract.recognition
    assert "lacks customer_number" in extract.recognition


def test_ambiguous_subset_is_refused_naming_the_candidates(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("E-mail;Telefoon;Plaats\nanna@example.nl;0612345678;Haarlem\n")
    with pytest.raises(InputError, match="fit several exports") as info:
        sources.read(path)
    message = str(info.value)
    assert "moneybird/contacts (3)" in message and "exact/relations (3)" in message
    assert "--source SERVICE/KIND" in message
    assert "anna@example.nl" not in message and "Haarlem" not in message


def test_subset_without_a_name_or_identifier_is_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "places.csv"
    path.write_text("Plaats;Land;Postcode\nHaarlem;Nederland;1234 AB\n")
    with pytest.raises(InputError, match="not recognised as a known export"):
        sources.read(path)


def test_source_service_chooses_a_kind_says_why_and_reports_unmapped(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "klanten.csv"
    path.write_text("Klantnummer;E-mailadres;Lievelingskleur\n42;anna@example.nl;blauw\n")
    code, out, err = _run(capsys, tmp_path / "ws", "import", "--source", "moneybird", str(path))
    assert code == 0, err
    assert "[moneybird/contacts]" in out
    assert "recognised as moneybird/contacts: chosen by its columns: 2 of 3 known" in out
    assert "giving customer_number, email" in out
    assert "unmapped columns (1): Lievelingskleur" in out
    assert "blauw" not in out and "anna@example.nl" not in out


def test_source_service_with_nothing_identifying_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Plaats;Land\nHaarlem;Nederland\n")
    with pytest.raises(InputError, match="not recognised as a moneybird export"):
        sources.read(path, "moneybird")


VALUES_ROW = "Jan Jansen;jan@example.nl;NL91ABNA0417164300;12-03-1980;12,50"
SECRETS = ["Jansen", "jan@example.nl", "NL91ABNA", "1980", "12,50"]


@pytest.mark.parametrize("source", [None, "mollie/payments_csv", "moneybird", "exact/relations"])
def test_header_row_of_values_is_refused_without_echoing_them(
        tmp_path: Path, capsys: pytest.CaptureFixture, source: str | None) -> None:
    path = tmp_path / "export.csv"
    path.write_text(f"{VALUES_ROW}\nPiet Peters;piet@example.nl;NL20INGB0001234567;01-01-1990;3,00\n")
    ws = tmp_path / "ws"
    code, out, err = _run(capsys, ws, "import", *(["--source", source] if source else []), str(path))
    assert code == 2
    assert "first row holds values, not column names" in err
    assert "column 2 looks like an e-mail address" in err and "column 3 looks like an IBAN" in err
    assert "column 4 looks like a date" in err and "column 5 looks like a number or amount" in err
    for secret in SECRETS:
        assert secret not in out + err
    assert not Workspace(ws).exists


def test_header_row_of_values_in_xlsx_and_of_names_only_is_refused(tmp_path: Path) -> None:
    book = _xlsx(tmp_path / "values.xlsx", [["Anna de Vries", "anna@example.nl"], ["B", "b@example.nl"]])
    with pytest.raises(InputError, match="column 2 looks like an e-mail address") as info:
        sources.read(book, "moneybird/contacts")
    assert "Vries" not in str(info.value)
    names = tmp_path / "names.csv"
    names.write_text("Anna de Vries;Karel Appel\nPiet Jansen;Els Bos\n")
    with pytest.raises(InputError, match="column 1 looks like a person's name") as info:
        sources.read(names, "moneybird")
    assert "Vries" not in str(info.value) and "Appel" not in str(info.value)


def test_header_words_are_not_taken_for_names() -> None:
    known = _recognise.known_captions(sources.headers_services(), None)
    assert _recognise.header_values(["Order Status", "Newsletter Consent", "Email"], known) == []
    assert _recognise.header_values(["Customer Name", "Zip Code"], known) == []
    assert _recognise.header_values(["Jan Jansen", "Amsterdam"], known) == [(1, "a person's name")]


@pytest.mark.parametrize("first_line", [
    "root:$6$Zx9secrethash0123456789abcdef:19000:0:99999:7:::",
    "this machine is called secrethash-host",
])
def test_symlink_to_a_non_export_with_source_is_refused_without_its_first_line(
        tmp_path: Path, capsys: pytest.CaptureFixture, first_line: str) -> None:
    target = tmp_path / "system-file"
    target.write_text(f"{first_line}\n{first_line.replace('root', 'daemon')}\n")
    link = tmp_path / "export.csv"
    link.symlink_to(target)
    ws = tmp_path / "ws"
    code, out, err = _run(capsys, ws, "import", "--source", "mollie/payments_csv", str(link))
    assert code == 2, out
    assert "secrethash" not in out + err and "daemon" not in out + err
    assert not Workspace(ws).exists or not any(Workspace(ws).raw_dir.iterdir())


def test_captions_are_printed_with_control_characters_escaped(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "klanten.csv"
    path.write_text("Klantnummer;E-mailadres;Kleur\x1b[2J\n42;anna@example.nl;blauw\n")
    code, out, err = _run(capsys, tmp_path / "ws", "import", "--source", "moneybird", str(path))
    assert code == 0, err
    assert "\x1b" not in out and "Kleur\\x1b[2J" in out
