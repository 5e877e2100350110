"""The access / portability package: every Art. 15 item in the letter, only the subject's own
records (a namesake's never), hashes, data package, safe cells, owner-only files, the encrypted
zip, the PDF, portability and redaction."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import stat
from datetime import date
from pathlib import Path

import pytest
import pyzipper
from openpyxl import load_workbook
from pypdf import PdfReader

from workbench import demo, pipeline
from workbench.audit import trail
from workbench.datamap import linkage
from workbench.reference import register as registry
from workbench.rights import letters, package, requests


@pytest.fixture(scope="module")
def built(demo_run: pipeline.Run, tmp_path_factory: pytest.TempPathFactory):
    run = demo_run
    business = demo.build()
    first, second = [c for c in business.clients if "namesake" in c.flags][:2]
    subject = linkage.find(run.workspace, email=first.person.email)["subject_id"].tolist()
    assert len(subject) == 1
    return run.workspace, registry.load(), first, second, subject, tmp_path_factory.mktemp("packages")


TODAY = date(2026, 11, 2)


def _registered(ws, register, email: str) -> dict:
    """A request in the register, verified, with the systems without an export searched by hand."""
    rid = requests.new(ws, type="access", email=email, received="2026-10-20", today=TODAY).request_id
    requests.verify(ws, rid, method="known_email", outcome="passed", on="2026-10-21", today=TODAY)
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    for system in letters.client_systems(register):
        if system not in imported:
            requests.record_search(ws, rid, system=system, result="niets gevonden", today=TODAY)
    row, _, _ = requests.show(ws, rid)
    return {"id": rid, "type": "access", "received": "2026-10-20", "due": str(requests.current_due(row))}


@pytest.fixture(scope="module")
def nl(built):
    ws, register, first, _, subject, out = built
    request = _registered(ws, register, first.person.email)
    return package.write_package(ws, register, subject_ids=subject, out=out / "nl", request=request,
                                 identities={"e-mail": first.person.email}, zip=True, today=TODAY)


@pytest.fixture(scope="module")
def sealed(built):
    ws, register, first, _, subject, out = built
    request = _registered(ws, register, first.person.email)
    return package.write_package(ws, register, subject_ids=subject, out=out / "sealed", request=request,
                                 identities={"e-mail": first.person.email}, encrypt=True, today=TODAY)


@pytest.fixture(scope="module")
def en(built):
    ws, register, first, _, subject, out = built
    return package.write_package(ws, register, subject_ids=subject, out=out / "en", lang="en",
                                 identities={"email": first.person.email}, pdf=False)


@pytest.fixture(scope="module")
def portable(built):
    ws, register, first, _, subject, out = built
    return package.write_package(ws, register, subject_ids=subject, out=out / "portable", portability=True,
                                 identities={"email": first.person.email}, pdf=False)


def _text(path: Path) -> str:
    return (path / "index.html").read_text("utf-8")


CHECKS = {
    "nl": {"A15-01": "Ja, wij verwerken persoonsgegevens over u", "A15-04": "Klantadministratie",
           "A15-05": "E-mailadres", "A15-06": "wie uw gegevens voor ons bewaart",
           "A15-07": "7 jaar na het einde van het boekjaar",
           "A15-08": ["verbeteren", "wissen", "beperken", "bezwaar"],
           "A15-09": ["Autoriteit Persoonsgegevens", "autoriteitpersoonsgegevens.nl"],
           "A15-10": "Waar uw gegevens vandaan komen", "A15-11": "Geen automatische besluiten",
           "A15-13": "gratis", "A15-15": ["R-2026-", "Ons kenmerk", "2 november 2026", "20 oktober 2026"]},
    "en": {"A15-01": "Yes, we process personal data about you", "A15-04": "Client records",
           "A15-05": "E-mail address", "A15-06": "who keeps your data for us",
           "A15-07": "7 years after the end",
           "A15-08": ["corrected", "erased", "restrict", "object"],
           "A15-09": ["Autoriteit Persoonsgegevens", "autoriteitpersoonsgegevens.nl"],
           "A15-10": "Where your data comes from", "A15-11": "No automated decisions",
           "A15-13": "free of charge", "A15-15": ["AD-HOC-", "Our reference", "DRAFT"]},
}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_letter_states_every_art15_item(lang, nl, en, built) -> None:
    result = {"nl": nl, "en": en}[lang]
    text = _text(result.out)
    for item, wanted in CHECKS[lang].items():
        for phrase in [wanted] if isinstance(wanted, str) else wanted:
            assert phrase in text, (item, phrase)
    assert built[2].person.email in text  # the addressee
    assert 'data-confirmation="true"' in text
    # A15-03: every client-data system of the register has a status, none skipped
    statuses = {s.system: s.status for s in result.systems}
    assert set(statuses) >= {"mollie", "moneybird", "factuursturen", "exact", "mail", "hosting"}
    assert statuses["mollie"] == "found"
    # the demo's mailbox is imported: searched by the workbench, for the ad-hoc draft too
    assert statuses["mail"] in ("found", "not_found")
    assert next(s for s in result.systems if s.system == "mail").method == "automatic"
    assert ("niets gevonden (met de hand doorzocht)" if lang == "nl" else "not searched yet") in text
    assert "Gmail (Google)" in text and "Mollie" in text  # processors named
    assert not re.search(r"""(src|href)=["']?https?:""", text)  # self-contained
    assert result.draft == (lang == "en")


def test_nothing_of_the_namesake(nl, built) -> None:
    _, _, first, second, _, _ = built
    texts, cells = [], set()
    for path in nl.out.rglob("*"):
        if path.suffix in (".csv", ".json", ".html"):
            texts.append(path.read_text("utf-8"))
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                cells |= {c.strip() for row in csv.reader(handle) for c in row}
        if path.suffix == ".xlsx":
            book = load_workbook(path, read_only=True)
            for sheet in book:
                for row in sheet.iter_rows(values_only=True):
                    cells |= {str(c).strip() for c in row if c is not None}
                texts.append(" ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row))
    blob = "\n".join(texts).lower()
    assert first.person.email.lower() in blob  # the subject's own data is there
    assert second.person.email.lower() not in blob
    assert second.person.iban.lower() not in blob.replace(" ", "")
    assert str(second.number) not in cells and str(first.number) in cells


def test_manifest_hashes_match(nl, built) -> None:
    manifest = json.loads(nl.manifest.read_text("utf-8"))
    assert manifest["request_id"] == nl.request_id and manifest["confirmation"] is True
    assert manifest["draft"] is False and manifest["letter_date"] == TODAY.isoformat()
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(nl.out).as_posix() for p in nl.out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk
    for name, entry in listed.items():
        data = (nl.out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    logged = list(trail.entries(built[0]))
    assert any(e.request_id == nl.request_id and e.files["index.html"] == listed["index.html"]["sha256"]
               for e in logged)


def test_datapackage_describes_every_csv(nl) -> None:
    described = json.loads((nl.out / "datapackage.json").read_text("utf-8"))
    resources = {r["path"]: r for r in described["resources"]}
    csvs = {p.relative_to(nl.out).as_posix() for p in (nl.out / "data").rglob("*.csv")}
    assert set(resources) == csvs and csvs
    for path, resource in resources.items():
        assert resource["format"] == "csv" and resource["mediatype"] == "text/csv"
        assert resource["encoding"] == "utf-8"
        with (nl.out / path).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert [f["name"] for f in resource["schema"]["fields"]] == rows[0]
        assert {len(r) for r in rows} == {len(rows[0])}
        for item in resource["schema"]["fields"]:
            assert {"name", "type", "description", "category", "unit", "format", "timezone"} <= item.keys()
    categories = {f["category"] for r in resources.values() for f in r["schema"]["fields"]}
    assert "user.contact.email" in categories


def test_formula_cells_are_quoted(tmp_path: Path) -> None:
    table = package._Table("mollie", "payments_csv", "payments_csv", ["_source_file", "_source_row", "Name"],
                           {"Name": "name"}, [{"_source_file": "x.csv", "_source_row": "1",
                                               "Name": "=HYPERLINK(\"http://x\")"}], ["x.csv"])
    package._write_data(tmp_path, [table])
    text = (tmp_path / "data" / "mollie" / "payments_csv.csv").read_text("utf-8")
    assert "'=HYPERLINK" in text
    sheet = load_workbook(tmp_path / "data.xlsx")["mollie_payments_csv"]
    assert sheet["C2"].value.startswith("'=")


def test_files_are_owner_only(nl) -> None:
    for path in [nl.out, *nl.out.rglob("*"), nl.zip_path]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_encrypted_zip_round_trip(sealed, nl) -> None:
    assert sealed.zip_path.name == "sealed.zip" and sealed.passphrase and nl.passphrase is None
    assert not sealed.out.exists(), "no plain copy stays next to the encrypted zip"
    with pyzipper.AESZipFile(sealed.zip_path) as archive:
        with pytest.raises(RuntimeError):
            archive.read("datapackage.json")
        archive.setpassword(sealed.passphrase.encode())
        assert sealed.passphrase.encode() not in archive.read("manifest.json")
        assert b"<html" in archive.read("index.html").lower()
    with pyzipper.AESZipFile(sealed.zip_path) as archive:
        archive.setpassword(b"not-the-passphrase")
        with pytest.raises(RuntimeError):
            archive.read("index.html")
    assert stat.S_IMODE(sealed.zip_path.stat().st_mode) == 0o600


def test_pdf_is_written(nl, en) -> None:
    assert (nl.out / "index.pdf").read_bytes().startswith(b"%PDF")
    assert not (en.out / "index.pdf").exists()


def test_portability_excludes_internal_notes(portable, nl) -> None:
    text = _text(portable.out)
    assert 'id="portability"' in text and "aantekeningen of een kredietlimiet" in text
    full = (nl.out / "data" / "moneybird" / "contacts.csv").read_text("utf-8").splitlines()[0]
    kept = (portable.out / "data" / "moneybird" / "contacts.csv").read_text("utf-8").splitlines()[0]
    assert "Notities" in full and "Notities" not in kept
    described = json.loads((portable.out / "datapackage.json").read_text("utf-8"))
    fields = {f.get("field") for r in described["resources"] for f in r["schema"]["fields"]} - {None}
    assert fields and not fields & {"notes", "search_code", "party_key", "customer_number"}
    assert not list(portable.out.rglob("xaf.*"))  # no bookkeeping audit file


def test_redact_blanks_the_cell_and_logs_without_value(en, built) -> None:
    email = built[2].person.email
    path = en.out / "data" / "moneybird" / "contacts.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    column = next(c for c, v in rows[0].items() if v.lower() == email.lower())
    package.redact(en.out, "moneybird/contacts", 1, column, "test: third-party e-mail")
    with path.open(encoding="utf-8", newline="") as handle:
        assert next(csv.DictReader(handle))[column] == ""
    data = json.loads((en.out / "data" / "moneybird" / "contacts.json").read_text("utf-8"))
    assert data["records"][0][column] == ""
    described = json.loads((en.out / "datapackage.json").read_text("utf-8"))
    sheet = next(r["xlsx_sheet"] for r in described["resources"]
                 if r["path"].endswith("moneybird/contacts.csv"))
    ws = load_workbook(en.out / "data.xlsx")[sheet]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index(column) + 1).value is None
    log = (en.out / "redactions.log").read_text("utf-8")
    assert "moneybird/contacts" in log and email.lower() not in log.lower()
    manifest = json.loads(en.manifest.read_text("utf-8"))
    entry = next(f for f in manifest["files"] if f["path"] == "data/moneybird/contacts.csv")
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert any(f["path"] == "redactions.log" for f in manifest["files"])
    with pytest.raises(package.PackageError):
        package.redact(en.out, "moneybird/contacts", 99, column, "out of range")


def test_todo_lists_third_parties_without_values(nl) -> None:
    assert not (nl.out / "redactions_todo.csv").exists()  # the analyst's list is not sent
    with package.todo_path(nl.out).open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["source", "table", "row", "column", "reason"]
    own = [("rosa", "gruson")]
    table = package._Table("exact", "xml", "xml", ["_source_file", "_source_row", "OrderedBy", "Desc"],
                           {"OrderedBy": "other_name", "Desc": "description"},
                           [{"_source_file": "f", "_source_row": "1", "OrderedBy": "Piet Jansen",
                             "Desc": "Hosting"},
                            {"_source_file": "f", "_source_row": "2", "OrderedBy": "Rosa Gruson",
                             "Desc": "Karel de Boer"}], ["f"])
    todo = package.third_party([table], own)
    assert [(t["row"], t["column"]) for t in todo] == [(1, "OrderedBy"), (2, "Desc")]
    assert all("Piet" not in str(t) and "Karel" not in str(t) for t in todo)


def test_refuses_a_folder_in_use(built, nl) -> None:
    ws, register, first, _, subject, _ = built
    with pytest.raises(package.PackageError):
        package.write_package(ws, register, subject_ids=subject, out=nl.out, identities={})


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_letter_fits_two_a4_pages_before_its_annex(built, lang) -> None:
    ws, register, first, _, subject, out = built
    result = package.write_package(ws, register, subject_ids=subject, out=out / f"pages-{lang}", lang=lang,
                                   identities={"e-mail": first.person.email}, today=TODAY)
    pages = [p.extract_text() for p in PdfReader(result.out / "index.pdf").pages]
    title = {"nl": "Bijlage: Dit weten wij over u", "en": "Annex: What we hold about you"}[lang]
    assert next(i for i, text in enumerate(pages) if title in text) <= 2
    assert {"nl": "CONCEPT", "en": "DRAFT"}[lang] in pages[0]  # ad hoc: a watermarked draft


def _described(folder: Path, descriptor: dict, rows: str) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "clients.csv").write_text(rows, "utf-8")
    (folder / package.DATAPACKAGE).write_text(json.dumps(descriptor), "utf-8")
    return folder


def _descriptor(fields: list[dict], **resource: object) -> dict:
    return {"profile": "tabular-data-package", "name": "req-1", "resources": [
        {"name": "clients", "path": "data/clients.csv", "profile": "tabular-data-resource",
         "format": "csv", "schema": {"fields": fields}, **resource}]}


def test_datapackage_that_fits_its_data_passes(tmp_path: Path) -> None:
    fields = [{"name": "email", "type": "string"}, {"name": "_source_row", "type": "integer"}]
    folder = _described(tmp_path, _descriptor(fields), "email,_source_row\njan@example.nl,2\n")
    package.check_datapackage(folder)


def test_broken_datapackage_descriptor_is_caught(tmp_path: Path) -> None:
    fields = [{"name": "email", "type": "text"}]  # not a Table Schema type
    folder = _described(tmp_path, _descriptor(fields), "email\njan@example.nl\n")
    with pytest.raises(package.PackageError, match="datapackage.json does not describe the package"):
        package.check_datapackage(folder)


def test_data_off_its_schema_is_caught_without_the_value(tmp_path: Path) -> None:
    fields = [{"name": "email", "type": "string"}, {"name": "_source_row", "type": "integer"}]
    folder = _described(tmp_path, _descriptor(fields), "email,_source_row\njan@example.nl,twee\n")
    with pytest.raises(package.PackageError) as caught:
        package.check_datapackage(folder)
    message = str(caught.value)
    assert "resource clients, row 2, field _source_row" in message
    assert "twee" not in message and "jan@example.nl" not in message


def test_missing_data_file_is_caught(tmp_path: Path) -> None:
    folder = _described(tmp_path, _descriptor([{"name": "email", "type": "string"}]), "email\n")
    (folder / "data" / "clients.csv").unlink()
    with pytest.raises(package.PackageError, match="resource clients"):
        package.check_datapackage(folder)
